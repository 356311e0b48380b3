namespace TdxSim.Cpu.Tests.Differential;

/// <summary>Random values biased towards the edges where ALU bugs live (0, ±1, sign boundaries, all ones).</summary>
internal sealed class ValueSource(Random rng)
{
    private static readonly ulong[] Edges =
    [
        0, 1, 2, 0x7F, 0x80, 0xFF, 0x7FFF, 0x8000, 0xFFFF, 0x7FFF_FFFF, 0x8000_0000, 0xFFFF_FFFF,
        0x1_0000_0000, 0x7FFF_FFFF_FFFF_FFFF, 0x8000_0000_0000_0000, 0xFFFF_FFFF_FFFF_FFFF, 0xFFFF_FFFF_FFFF_FFFE,
        0xFFFF_FFFF_FFFF_FF80, 0xFFFF_FFFF_FFFF_8000, 0xFFFF_FFFF_8000_0000,
    ];

    public Random Rng { get; } = rng;

    public int Next(int maxExclusive) => Rng.Next(maxExclusive);

    public int Next(int min, int maxExclusive) => Rng.Next(min, maxExclusive);

    public bool Chance(int percent) => Rng.Next(100) < percent;

    public T Pick<T>(IReadOnlyList<T> items) => items[Rng.Next(items.Count)];

    /// <summary>A 64-bit register value.</summary>
    public ulong Register() => Rng.Next(8) switch
    {
        0 or 1 => Edges[Rng.Next(Edges.Length)],
        2 => (ulong)Rng.Next(-16, 17),
        3 => (ulong)(uint)Rng.Next() ^ ((ulong)(uint)Rng.Next(2) << 31),
        4 => (ulong)Rng.Next(256),
        _ => (ulong)Rng.NextInt64() ^ ((ulong)Rng.Next(2) << 63),
    };

    /// <summary>A value of <paramref name="bits"/> bits (sign-extended to 64 when <paramref name="signExtend"/>).</summary>
    public long Immediate(int bits, bool signExtend)
    {
        ulong v = Register();
        if (bits < 64)
        {
            v &= (1UL << bits) - 1;
            if (signExtend && (v & (1UL << (bits - 1))) != 0)
            {
                v |= ~((1UL << bits) - 1);
            }
        }

        return (long)v;
    }

    /// <summary>Random bytes with runs of zeros and ones here and there.</summary>
    public void Fill(Span<byte> bytes)
    {
        Rng.NextBytes(bytes);
        for (int runs = Rng.Next(4); runs > 0; runs--)
        {
            int at = Rng.Next(bytes.Length);
            int len = Math.Min(bytes.Length - at, Rng.Next(1, 17));
            bytes.Slice(at, len).Fill(Rng.Next(2) == 0 ? (byte)0 : (byte)0xFF);
        }
    }
}
