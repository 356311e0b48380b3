using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace TdxSim.Abi;

/// <summary>
/// General-purpose registers in x86 encoding order. The numeric value is the register's
/// number in ModRM/REX encodings, in the TDVMCALL GPR_SELECT mask (bit n = register n) and
/// in the operand id of a TDX completion status (reference 1.4).
/// </summary>
public enum Gpr
{
    Rax = 0,
    Rcx = 1,
    Rdx = 2,
    Rbx = 3,
    Rsp = 4,
    Rbp = 5,
    Rsi = 6,
    Rdi = 7,
    R8 = 8,
    R9 = 9,
    R10 = 10,
    R11 = 11,
    R12 = 12,
    R13 = 13,
    R14 = 14,
    R15 = 15,
}

/// <summary>
/// A value copy of the sixteen general-purpose registers, indexed by <see cref="Gpr"/>.
/// Messages carry it by value, so a receiver can never change what the sender holds.
/// </summary>
[InlineArray(Count)]
public struct Gprs : IEquatable<Gprs>
{
    /// <summary>Number of general-purpose registers.</summary>
    public const int Count = 16;

    private ulong _element0;

    /// <summary>The register <paramref name="r"/>.</summary>
    public ulong this[Gpr r]
    {
        readonly get => this[(int)r];
        set => this[(int)r] = value;
    }

    /// <summary>Returns a copy in which every register whose bit is clear in <paramref name="mask"/> is zero.</summary>
    public readonly Gprs Masked(ushort mask)
    {
        Gprs copy;
        if (Vector256.IsHardwareAccelerated)
        {
            // Four registers per vector, each lane kept where its mask bit is set: no loop, no branch per register
            // (a TDVMCALL round trip masks the registers three times).
            Unsafe.SkipInit(out copy);
            ref ulong from = ref Unsafe.AsRef(in this[0]);
            ref ulong to = ref copy[0];
            for (int group = 0; group < Count; group += 4)
            {
                (Vector256.LoadUnsafe(ref from, (nuint)group) & Lanes(mask, group)).StoreUnsafe(ref to, (nuint)group);
            }

            return copy;
        }

        copy = default;
        for (int i = 0; i < Count; i++)
        {
            if ((mask & (1 << i)) != 0)
            {
                copy[i] = this[i];
            }
        }

        return copy;
    }

    /// <summary>Copies the registers selected by <paramref name="mask"/> from <paramref name="source"/> into this block.</summary>
    public void CopyFrom(in Gprs source, ushort mask)
    {
        if (Vector256.IsHardwareAccelerated)
        {
            ref ulong from = ref Unsafe.AsRef(in source[0]);
            ref ulong to = ref this[0];
            for (int group = 0; group < Count; group += 4)
            {
                Vector256.ConditionalSelect(Lanes(mask, group), Vector256.LoadUnsafe(ref from, (nuint)group), Vector256.LoadUnsafe(ref to, (nuint)group))
                    .StoreUnsafe(ref to, (nuint)group);
            }

            return;
        }

        for (int i = 0; i < Count; i++)
        {
            if ((mask & (1 << i)) != 0)
            {
                this[i] = source[i];
            }
        }
    }

    /// <summary>All ones in each lane of registers <paramref name="first"/> to <paramref name="first"/> + 3 whose bit is set in <paramref name="mask"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<ulong> Lanes(ushort mask, int first)
    {
        Vector256<ulong> bits = Vector256.Create(1UL, 2UL, 4UL, 8UL) << first;
        return Vector256.Equals(Vector256.Create((ulong)mask) & bits, bits);
    }

    /// <inheritdoc/>
    public readonly bool Equals(Gprs other)
    {
        for (int i = 0; i < Count; i++)
        {
            if (this[i] != other[i])
            {
                return false;
            }
        }

        return true;
    }

    /// <inheritdoc/>
    public override readonly bool Equals(object? obj) => obj is Gprs g && Equals(g);

    /// <inheritdoc/>
    public override readonly int GetHashCode()
    {
        var h = new HashCode();
        for (int i = 0; i < Count; i++)
        {
            h.Add(this[i]);
        }

        return h.ToHashCode();
    }

    public static bool operator ==(Gprs left, Gprs right) => left.Equals(right);

    public static bool operator !=(Gprs left, Gprs right) => !left.Equals(right);

    /// <summary>Lower-case register names in <see cref="Gpr"/> order, as the message log writes them.</summary>
    public static ReadOnlySpan<string> Names => NameTable;

    private static readonly string[] NameTable =
    [
        "rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi",
        "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15",
    ];
}

/// <summary>Bit masks over <see cref="Gpr"/> numbers (bit n = register n).</summary>
public static class GprMask
{
    public const ushort Rax = 1 << 0;
    public const ushort Rcx = 1 << 1;
    public const ushort Rdx = 1 << 2;
    public const ushort Rbx = 1 << 3;
    public const ushort Rsp = 1 << 4;
    public const ushort Rbp = 1 << 5;
    public const ushort Rsi = 1 << 6;
    public const ushort Rdi = 1 << 7;
    public const ushort R8 = 1 << 8;
    public const ushort R9 = 1 << 9;
    public const ushort R10 = 1 << 10;
    public const ushort R11 = 1 << 11;
    public const ushort R12 = 1 << 12;
    public const ushort R13 = 1 << 13;
    public const ushort R14 = 1 << 14;
    public const ushort R15 = 1 << 15;

    /// <summary>Every register.</summary>
    public const ushort All = 0xFFFF;
}
