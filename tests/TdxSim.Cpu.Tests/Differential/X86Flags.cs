using Iced.Intel;

namespace TdxSim.Cpu.Tests.Differential;

/// <summary>RFLAGS bits (SDM Vol. 1 section 3.4.3) and the mapping from Iced's <see cref="RflagsBits"/>.</summary>
internal static class X86Flags
{
    public const ulong Cf = 1UL << 0;
    public const ulong Pf = 1UL << 2;
    public const ulong Af = 1UL << 4;
    public const ulong Zf = 1UL << 6;
    public const ulong Sf = 1UL << 7;
    public const ulong If = 1UL << 9;
    public const ulong Df = 1UL << 10;
    public const ulong Of = 1UL << 11;

    /// <summary>The six status flags.</summary>
    public const ulong Status = Cf | Pf | Af | Zf | Sf | Of;

    /// <summary>What the comparison looks at: the status flags and DF.</summary>
    public const ulong Compared = Status | Df;

    /// <summary>The status flags among Iced's flag set (other bits ignored).</summary>
    public static ulong FromIced(Iced.Intel.RflagsBits bits)
    {
        ulong r = 0;
        if ((bits & Iced.Intel.RflagsBits.CF) != 0)
        {
            r |= Cf;
        }

        if ((bits & Iced.Intel.RflagsBits.PF) != 0)
        {
            r |= Pf;
        }

        if ((bits & Iced.Intel.RflagsBits.AF) != 0)
        {
            r |= Af;
        }

        if ((bits & Iced.Intel.RflagsBits.ZF) != 0)
        {
            r |= Zf;
        }

        if ((bits & Iced.Intel.RflagsBits.SF) != 0)
        {
            r |= Sf;
        }

        if ((bits & Iced.Intel.RflagsBits.OF) != 0)
        {
            r |= Of;
        }

        return r;
    }

    public static string Describe(ulong flags)
    {
        var names = new List<string>(6);
        if ((flags & Cf) != 0)
        {
            names.Add("CF");
        }

        if ((flags & Pf) != 0)
        {
            names.Add("PF");
        }

        if ((flags & Af) != 0)
        {
            names.Add("AF");
        }

        if ((flags & Zf) != 0)
        {
            names.Add("ZF");
        }

        if ((flags & Sf) != 0)
        {
            names.Add("SF");
        }

        if ((flags & Df) != 0)
        {
            names.Add("DF");
        }

        if ((flags & Of) != 0)
        {
            names.Add("OF");
        }

        return names.Count == 0 ? "none" : string.Join(' ', names);
    }
}
