using System.Numerics;
using System.Runtime.CompilerServices;

namespace TdxSim.Cpu.Exec;

/// <summary>Selects at compile time whether a handler computes the status flags (flag-liveness variants).</summary>
internal interface IFlagMode
{
    static abstract bool On { get; }
}

/// <summary>Compute the status flags.</summary>
internal struct FlagsOn : IFlagMode
{
    public static bool On => true;
}

/// <summary>Skip the status flags: every flag this instruction writes is overwritten before anything reads it.</summary>
internal struct FlagsOff : IFlagMode
{
    public static bool On => false;
}

/// <summary>Exact status-flag computation (SDM Vol. 1 appendix A, Vol. 2 per-instruction "Flags Affected").</summary>
internal static unsafe class Flags
{
    // The architectural bits are defined once, in the public Rflags class.
    public const ulong Cf = Rflags.Cf;
    public const ulong Pf = Rflags.Pf;
    public const ulong Af = Rflags.Af;
    public const ulong Zf = Rflags.Zf;
    public const ulong Sf = Rflags.Sf;
    public const ulong Tf = Rflags.Tf;
    public const ulong If = Rflags.If;
    public const ulong Df = Rflags.Df;
    public const ulong Of = Rflags.Of;
    public const ulong Status = Rflags.Status;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int Bits<T>()
        where T : unmanaged => Unsafe.SizeOf<T>() * 8;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong U<T>(T v)
        where T : unmanaged, IBinaryInteger<T> => ulong.CreateTruncating(v);

    /// <summary>PF: set when the low byte of the result has an even number of one bits.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong Parity(ulong r)
    {
        uint x = (uint)r & 0xFF;
        x ^= x >> 4;
        return ((0x9669u >> (int)(x & 0xF)) & 1) << 2;
    }

    /// <summary>SF, ZF and PF of a result of width T.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong Szp<T>(T result)
        where T : unmanaged, IBinaryInteger<T>
    {
        ulong r = U(result);
        return ((r >> (Bits<T>() - 8)) & Sf) | (r == 0 ? Zf : 0) | Parity(r);
    }

    /// <summary>Flags of ADD/ADC given the carry out.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong Add<T>(T a, T b, T r, bool carry)
        where T : unmanaged, IBinaryInteger<T>
    {
        ulong ua = U(a), ub = U(b), ur = U(r);
        ulong of = (((ua ^ ur) & (ub ^ ur)) >> (Bits<T>() - 1)) & 1;
        return (carry ? Cf : 0) | Szp(r) | ((ua ^ ub ^ ur) & Af) | (of << 11);
    }

    /// <summary>Flags of SUB/SBB/CMP/NEG given the borrow.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong Sub<T>(T a, T b, T r, bool borrow)
        where T : unmanaged, IBinaryInteger<T>
    {
        ulong ua = U(a), ub = U(b), ur = U(r);
        ulong of = (((ua ^ ub) & (ua ^ ur)) >> (Bits<T>() - 1)) & 1;
        return (borrow ? Cf : 0) | Szp(r) | ((ua ^ ub ^ ur) & Af) | (of << 11);
    }

    /// <summary>Flags of AND/OR/XOR/TEST: CF = OF = 0, AF cleared (undefined on hardware).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong Logic<T>(T r)
        where T : unmanaged, IBinaryInteger<T> => Szp(r);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Set(CpuCore* c, ulong mask, ulong value) => c->State.Rflags = (c->State.Rflags & ~mask) | value;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void SetStatus(CpuCore* c, ulong value) => c->State.Rflags = (c->State.Rflags & ~Status) | value;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static T SignBit<T>()
        where T : unmanaged, IBinaryInteger<T> => T.One << (Bits<T>() - 1);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool IsNegative<T>(T v)
        where T : unmanaged, IBinaryInteger<T> => (v & SignBit<T>()) != T.Zero;
}
