using System.Runtime.CompilerServices;

namespace TdxSim.Cpu.Exec;

/// <summary>A condition code (the tttn field of Jcc/SETcc/CMOVcc, SDM Vol. 1 appendix B), evaluated on RFLAGS.</summary>
internal interface ICondition
{
    static abstract bool Test(ulong f);
}

internal struct CondO : ICondition
{
    public static bool Test(ulong f) => (f & Flags.Of) != 0;
}

internal struct CondNo : ICondition
{
    public static bool Test(ulong f) => (f & Flags.Of) == 0;
}

internal struct CondB : ICondition
{
    public static bool Test(ulong f) => (f & Flags.Cf) != 0;
}

internal struct CondAe : ICondition
{
    public static bool Test(ulong f) => (f & Flags.Cf) == 0;
}

internal struct CondE : ICondition
{
    public static bool Test(ulong f) => (f & Flags.Zf) != 0;
}

internal struct CondNe : ICondition
{
    public static bool Test(ulong f) => (f & Flags.Zf) == 0;
}

internal struct CondBe : ICondition
{
    public static bool Test(ulong f) => (f & (Flags.Cf | Flags.Zf)) != 0;
}

internal struct CondA : ICondition
{
    public static bool Test(ulong f) => (f & (Flags.Cf | Flags.Zf)) == 0;
}

internal struct CondS : ICondition
{
    public static bool Test(ulong f) => (f & Flags.Sf) != 0;
}

internal struct CondNs : ICondition
{
    public static bool Test(ulong f) => (f & Flags.Sf) == 0;
}

internal struct CondP : ICondition
{
    public static bool Test(ulong f) => (f & Flags.Pf) != 0;
}

internal struct CondNp : ICondition
{
    public static bool Test(ulong f) => (f & Flags.Pf) == 0;
}

internal struct CondL : ICondition
{
    public static bool Test(ulong f) => Conditions.SfNeOf(f);
}

internal struct CondGe : ICondition
{
    public static bool Test(ulong f) => !Conditions.SfNeOf(f);
}

internal struct CondLe : ICondition
{
    public static bool Test(ulong f) => (f & Flags.Zf) != 0 || Conditions.SfNeOf(f);
}

internal struct CondG : ICondition
{
    public static bool Test(ulong f) => (f & Flags.Zf) == 0 && !Conditions.SfNeOf(f);
}

internal static class Conditions
{
    /// <summary>SF != OF: SF is bit 7, OF bit 11.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool SfNeOf(ulong f) => (((f >> 4) ^ f) & Flags.Sf) != 0;

    /// <summary>Evaluates condition code <paramref name="cc"/> (0 = O ... 15 = G) on flags <paramref name="f"/>.</summary>
    public static bool Test(int cc, ulong f) => cc switch
    {
        0 => CondO.Test(f),
        1 => CondNo.Test(f),
        2 => CondB.Test(f),
        3 => CondAe.Test(f),
        4 => CondE.Test(f),
        5 => CondNe.Test(f),
        6 => CondBe.Test(f),
        7 => CondA.Test(f),
        8 => CondS.Test(f),
        9 => CondNs.Test(f),
        10 => CondP.Test(f),
        11 => CondNp.Test(f),
        12 => CondL.Test(f),
        13 => CondGe.Test(f),
        14 => CondLe.Test(f),
        _ => CondG.Test(f),
    };
}
