using System.Numerics;
using System.Runtime.CompilerServices;
using static TdxSim.Cpu.Exec.Operands;

namespace TdxSim.Cpu.Exec;

/// <summary>
/// MUL, IMUL (one, two and three operands), DIV and IDIV. MUL/IMUL set CF = OF = "the high half is significant";
/// SF, ZF, AF, PF are undefined and left as they were. DIV/IDIV raise #DE on a zero divisor or a quotient that
/// does not fit, with no register changed; their flags are undefined and left alone.
/// </summary>
internal static unsafe class MulDivOps
{
    private static readonly byte Rax = CpuCore.RegOffset(0);
    private static readonly byte Rdx = CpuCore.RegOffset(2);

    public static int MulR<T, TSigned>(CpuCore* c, Op* op)
        where T : unmanaged, IBinaryInteger<T>, IUnsignedNumber<T>
        where TSigned : struct, IFlagMode
    {
        WideMultiply<T, TSigned>(c, Reg<T>(c, op->Src));
        return Status.Continue;
    }

    public static int MulM<T, TSigned>(CpuCore* c, Op* op)
        where T : unmanaged, IBinaryInteger<T>, IUnsignedNumber<T>
        where TSigned : struct, IFlagMode
    {
        if (!MemoryAccess.TryRead(c, Ea(c, op), out T v))
        {
            return Status.Exit;
        }

        WideMultiply<T, TSigned>(c, v);
        return Status.Continue;
    }

    /// <summary>IMUL r, r/m (Aux3 = 0) or IMUL r, r/m, imm (Aux3 = 1), register source.</summary>
    public static int ImulR<T>(CpuCore* c, Op* op)
        where T : unmanaged, IBinaryInteger<T>, IUnsignedNumber<T>
    {
        T a = op->Aux3 != 0 ? Imm<T>(op) : Reg<T>(c, op->Dst);
        SetReg(c, op->Dst, TruncatedImul(c, a, Reg<T>(c, op->Src)));
        return Status.Continue;
    }

    public static int ImulM<T>(CpuCore* c, Op* op)
        where T : unmanaged, IBinaryInteger<T>, IUnsignedNumber<T>
    {
        if (!MemoryAccess.TryRead(c, Ea(c, op), out T v))
        {
            return Status.Exit;
        }

        T a = op->Aux3 != 0 ? Imm<T>(op) : Reg<T>(c, op->Dst);
        SetReg(c, op->Dst, TruncatedImul(c, a, v));
        return Status.Continue;
    }

    public static int DivR<T, TSigned>(CpuCore* c, Op* op)
        where T : unmanaged, IBinaryInteger<T>, IUnsignedNumber<T>
        where TSigned : struct, IFlagMode => Divide<T, TSigned>(c, Reg<T>(c, op->Src));

    public static int DivM<T, TSigned>(CpuCore* c, Op* op)
        where T : unmanaged, IBinaryInteger<T>, IUnsignedNumber<T>
        where TSigned : struct, IFlagMode
    {
        if (!MemoryAccess.TryRead(c, Ea(c, op), out T v))
        {
            return Status.Exit;
        }

        return Divide<T, TSigned>(c, v);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static long Sx<T>(T v)
        where T : unmanaged, IBinaryInteger<T>
    {
        int shift = 64 - Flags.Bits<T>();
        return (long)(Flags.U(v) << shift) >> shift;
    }

    private static T TruncatedImul<T>(CpuCore* c, T a, T b)
        where T : unmanaged, IBinaryInteger<T>, IUnsignedNumber<T>
    {
        bool overflow;
        T r;
        if (sizeof(T) == 8)
        {
            long high = Math.BigMul((long)Flags.U(a), (long)Flags.U(b), out long low);
            r = T.CreateTruncating((ulong)low);
            overflow = high != (low >> 63);
        }
        else
        {
            long product = Sx(a) * Sx(b);
            r = T.CreateTruncating((ulong)product);
            overflow = product != Sx(r);
        }

        Flags.Set(c, Flags.Cf | Flags.Of, overflow ? Flags.Cf | Flags.Of : 0);
        return r;
    }

    private static void WideMultiply<T, TSigned>(CpuCore* c, T src)
        where T : unmanaged, IBinaryInteger<T>, IUnsignedNumber<T>
        where TSigned : struct, IFlagMode
    {
        T a = Reg<T>(c, Rax);
        int bits = Flags.Bits<T>();
        ulong low, high;
        bool significant;
        if (sizeof(T) == 8)
        {
            if (TSigned.On)
            {
                long h = Math.BigMul((long)Flags.U(a), (long)Flags.U(src), out long l);
                low = (ulong)l;
                high = (ulong)h;
                significant = h != (l >> 63);
            }
            else
            {
                high = Math.BigMul(Flags.U(a), Flags.U(src), out low);
                significant = high != 0;
            }
        }
        else
        {
            ulong product = TSigned.On ? (ulong)(Sx(a) * Sx(src)) : Flags.U(a) * Flags.U(src);
            ulong mask = (1UL << bits) - 1;
            low = product & mask;
            high = (product >> bits) & mask;
            significant = TSigned.On ? (long)product != Sx(T.CreateTruncating(low)) : high != 0;
        }

        if (sizeof(T) == 1)
        {
            SetReg(c, Rax, (ushort)((high << 8) | low));
        }
        else
        {
            SetReg(c, Rax, T.CreateTruncating(low));
            SetReg(c, Rdx, T.CreateTruncating(high));
        }

        Flags.Set(c, Flags.Cf | Flags.Of, significant ? Flags.Cf | Flags.Of : 0);
    }

    private static int Divide<T, TSigned>(CpuCore* c, T divisor)
        where T : unmanaged, IBinaryInteger<T>, IUnsignedNumber<T>
        where TSigned : struct, IFlagMode
    {
        if (divisor == T.Zero)
        {
            c->SetException(CpuExit.DivideError, 0, FaultDetail.DivideByZero);
            return Status.Exit;
        }

        int bits = Flags.Bits<T>();
        UInt128 dividend = sizeof(T) == 1
            ? Reg<ushort>(c, Rax)
            : ((UInt128)Flags.U(Reg<T>(c, Rdx)) << bits) | Flags.U(Reg<T>(c, Rax));
        ulong quotient, remainder;
        if (TSigned.On)
        {
            // Sign-extend the 2×width dividend to 128 bits.
            int shift = 128 - (2 * bits);
            Int128 n = (Int128)(dividend << shift) >> shift;
            Int128 d = Sx(divisor);
            Int128 q = n / d;
            Int128 rem = n - (q * d);
            Int128 min = -(Int128.One << (bits - 1));
            Int128 max = (Int128.One << (bits - 1)) - 1;
            if (q < min || q > max)
            {
                c->SetException(CpuExit.DivideError, 0, FaultDetail.DivideOverflow);
                return Status.Exit;
            }

            quotient = (ulong)(long)q;
            remainder = (ulong)(long)rem;
        }
        else
        {
            UInt128 d = Flags.U(divisor);
            UInt128 q = dividend / d;
            if (q > (UInt128)(ulong.MaxValue >> (64 - bits)))
            {
                c->SetException(CpuExit.DivideError, 0, FaultDetail.DivideOverflow);
                return Status.Exit;
            }

            quotient = (ulong)q;
            remainder = (ulong)(dividend - (q * d));
        }

        if (sizeof(T) == 1)
        {
            SetReg(c, Rax, (ushort)(((remainder & 0xFF) << 8) | (quotient & 0xFF)));
        }
        else
        {
            SetReg(c, Rax, T.CreateTruncating(quotient));
            SetReg(c, Rdx, T.CreateTruncating(remainder));
        }

        return Status.Continue;
    }
}
