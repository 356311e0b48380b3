using System.Numerics;
using System.Runtime.CompilerServices;
using static TdxSim.Cpu.Exec.Operands;

namespace TdxSim.Cpu.Exec;

/// <summary>A shift or rotate by a count already masked to 5 bits (6 for 64-bit operands) and non-zero.</summary>
internal unsafe interface IShiftOp
{
    static abstract T Exec<T, F>(CpuCore* c, T a, int count)
        where T : unmanaged, IBinaryInteger<T>, IUnsignedNumber<T>
        where F : struct, IFlagMode;
}

/// <summary>SHL/SAL: CF = last bit out, OF = MSB(result) xor CF (defined for count 1), SF/ZF/PF from the result.</summary>
internal unsafe struct ShlOp : IShiftOp
{
    public static T Exec<T, F>(CpuCore* c, T a, int count)
        where T : unmanaged, IBinaryInteger<T>, IUnsignedNumber<T>
        where F : struct, IFlagMode
    {
        int bits = Flags.Bits<T>();
        T r = count >= bits ? T.Zero : a << count;
        if (F.On)
        {
            ulong cf = count > bits ? 0 : (Flags.U(a) >> (bits - count)) & 1;
            ulong of = ((Flags.U(r) >> (bits - 1)) & 1) ^ cf;
            Flags.SetStatus(c, cf | Flags.Szp(r) | (of << 11));
        }

        return r;
    }
}

/// <summary>SHR: CF = last bit out, OF = MSB of the original operand.</summary>
internal unsafe struct ShrOp : IShiftOp
{
    public static T Exec<T, F>(CpuCore* c, T a, int count)
        where T : unmanaged, IBinaryInteger<T>, IUnsignedNumber<T>
        where F : struct, IFlagMode
    {
        int bits = Flags.Bits<T>();
        T r = count >= bits ? T.Zero : a >> count;
        if (F.On)
        {
            ulong cf = count > bits ? 0 : (Flags.U(a) >> (count - 1)) & 1;
            ulong of = (Flags.U(a) >> (bits - 1)) & 1;
            Flags.SetStatus(c, cf | Flags.Szp(r) | (of << 11));
        }

        return r;
    }
}

/// <summary>SAR: arithmetic shift; CF = last bit out, OF = 0.</summary>
internal unsafe struct SarOp : IShiftOp
{
    public static T Exec<T, F>(CpuCore* c, T a, int count)
        where T : unmanaged, IBinaryInteger<T>, IUnsignedNumber<T>
        where F : struct, IFlagMode
    {
        int bits = Flags.Bits<T>();
        long sa = (long)(Flags.U(a) << (64 - bits)) >> (64 - bits);
        T r = T.CreateTruncating((ulong)(sa >> Math.Min(count, 63)));
        if (F.On)
        {
            ulong cf = (ulong)(sa >> Math.Min(count - 1, 63)) & 1;
            Flags.SetStatus(c, cf | Flags.Szp(r));
        }

        return r;
    }
}

/// <summary>ROL: only CF (= LSB of the result) and OF (= MSB xor CF) change.</summary>
internal unsafe struct RolOp : IShiftOp
{
    public static T Exec<T, F>(CpuCore* c, T a, int count)
        where T : unmanaged, IBinaryInteger<T>, IUnsignedNumber<T>
        where F : struct, IFlagMode
    {
        int bits = Flags.Bits<T>();
        T r = T.RotateLeft(a, count & (bits - 1));
        if (F.On)
        {
            ulong cf = Flags.U(r) & 1;
            ulong of = ((Flags.U(r) >> (bits - 1)) & 1) ^ cf;
            Flags.Set(c, Flags.Cf | Flags.Of, cf | (of << 11));
        }

        return r;
    }
}

/// <summary>ROR: only CF (= MSB of the result) and OF (= MSB xor next bit) change.</summary>
internal unsafe struct RorOp : IShiftOp
{
    public static T Exec<T, F>(CpuCore* c, T a, int count)
        where T : unmanaged, IBinaryInteger<T>, IUnsignedNumber<T>
        where F : struct, IFlagMode
    {
        int bits = Flags.Bits<T>();
        T r = T.RotateRight(a, count & (bits - 1));
        if (F.On)
        {
            ulong ur = Flags.U(r);
            ulong cf = (ur >> (bits - 1)) & 1;
            ulong of = cf ^ ((ur >> (bits - 2)) & 1);
            Flags.Set(c, Flags.Cf | Flags.Of, cf | (of << 11));
        }

        return r;
    }
}

/// <summary>RCL: rotate the (width + 1)-bit value CF:operand left; CF and OF only.</summary>
internal unsafe struct RclOp : IShiftOp
{
    public static T Exec<T, F>(CpuCore* c, T a, int count)
        where T : unmanaged, IBinaryInteger<T>, IUnsignedNumber<T>
        where F : struct, IFlagMode
    {
        int bits = Flags.Bits<T>();
        int n = count % (bits + 1);
        ulong cfIn = c->State.Rflags & Flags.Cf;
        if (n == 0)
        {
            return a;
        }

        UInt128 mask = (UInt128.One << (bits + 1)) - 1;
        UInt128 wide = ((UInt128)cfIn << bits) | Flags.U(a);
        wide = ((wide << n) | (wide >> (bits + 1 - n))) & mask;
        T r = T.CreateTruncating((ulong)wide);
        ulong cf = (ulong)(wide >> bits) & 1;
        ulong of = ((Flags.U(r) >> (bits - 1)) & 1) ^ cf;
        Flags.Set(c, Flags.Cf | Flags.Of, cf | (of << 11));
        return r;
    }
}

/// <summary>RCR: rotate CF:operand right; OF = MSB(original) xor CF(original).</summary>
internal unsafe struct RcrOp : IShiftOp
{
    public static T Exec<T, F>(CpuCore* c, T a, int count)
        where T : unmanaged, IBinaryInteger<T>, IUnsignedNumber<T>
        where F : struct, IFlagMode
    {
        int bits = Flags.Bits<T>();
        int n = count % (bits + 1);
        ulong cfIn = c->State.Rflags & Flags.Cf;
        if (n == 0)
        {
            return a;
        }

        ulong of = ((Flags.U(a) >> (bits - 1)) & 1) ^ cfIn;
        UInt128 mask = (UInt128.One << (bits + 1)) - 1;
        UInt128 wide = ((UInt128)cfIn << bits) | Flags.U(a);
        wide = ((wide >> n) | (wide << (bits + 1 - n))) & mask;
        T r = T.CreateTruncating((ulong)wide);
        ulong cf = (ulong)(wide >> bits) & 1;
        Flags.Set(c, Flags.Cf | Flags.Of, cf | (of << 11));
        return r;
    }
}

/// <summary>Operand forms of the shifts and rotates: Aux = 1 takes the count from CL, otherwise from the immediate.</summary>
internal static unsafe class Shift
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int Count<T>(CpuCore* c, Op* op)
        where T : unmanaged
    {
        int raw = op->Aux == 1 ? (byte)Gpr(c, 1) : (int)op->Imm;
        return raw & (sizeof(T) == 8 ? 63 : 31);
    }

    public static int R<T, TOp, F>(CpuCore* c, Op* op)
        where T : unmanaged, IBinaryInteger<T>, IUnsignedNumber<T>
        where TOp : struct, IShiftOp
        where F : struct, IFlagMode
    {
        int count = Count<T>(c, op);
        T a = Reg<T>(c, op->Dst);
        SetReg(c, op->Dst, count == 0 ? a : TOp.Exec<T, F>(c, a, count));
        return Status.Continue;
    }

    public static int M<T, TOp, F>(CpuCore* c, Op* op)
        where T : unmanaged, IBinaryInteger<T>, IUnsignedNumber<T>
        where TOp : struct, IShiftOp
        where F : struct, IFlagMode
    {
        int status = Status.Continue;
        byte* p = MemoryAccess.Write(c, Ea(c, op), (uint)sizeof(T), ref status, Access.ReadWrite);
        if (p == null)
        {
            return Status.Exit;
        }

        int count = Count<T>(c, op);
        if (count != 0)
        {
            Unsafe.WriteUnaligned(p, TOp.Exec<T, F>(c, Unsafe.ReadUnaligned<T>(p), count));
        }

        return status;
    }

    /// <summary>SHLD (Aux3 = 0) / SHRD (Aux3 = 1) with a register destination.</summary>
    public static int DoubleR<T, F>(CpuCore* c, Op* op)
        where T : unmanaged, IBinaryInteger<T>, IUnsignedNumber<T>
        where F : struct, IFlagMode
    {
        int count = Count<T>(c, op);
        T a = Reg<T>(c, op->Dst);
        SetReg(c, op->Dst, count == 0 ? a : Double<T, F>(c, a, Reg<T>(c, op->Src), count, op->Aux3 != 0));
        return Status.Continue;
    }

    public static int DoubleM<T, F>(CpuCore* c, Op* op)
        where T : unmanaged, IBinaryInteger<T>, IUnsignedNumber<T>
        where F : struct, IFlagMode
    {
        int status = Status.Continue;
        byte* p = MemoryAccess.Write(c, Ea(c, op), (uint)sizeof(T), ref status, Access.ReadWrite);
        if (p == null)
        {
            return Status.Exit;
        }

        int count = Count<T>(c, op);
        if (count != 0)
        {
            Unsafe.WriteUnaligned(p, Double<T, F>(c, Unsafe.ReadUnaligned<T>(p), Reg<T>(c, op->Src), count, op->Aux3 != 0));
        }

        return status;
    }

    /// <summary>SHLD/SHRD core over the 2×width concatenation (counts beyond a 16-bit width give the
    /// undefined-by-SDM result of shifting that concatenation, as Intel cores do).</summary>
    private static T Double<T, F>(CpuCore* c, T a, T b, int count, bool right)
        where T : unmanaged, IBinaryInteger<T>, IUnsignedNumber<T>
        where F : struct, IFlagMode
    {
        int bits = Flags.Bits<T>();
        T r;
        ulong cf;
        if (!right)
        {
            UInt128 wide = ((UInt128)Flags.U(a) << bits) | Flags.U(b);
            r = T.CreateTruncating((ulong)((wide << count) >> bits));
            cf = (ulong)(wide >> ((2 * bits) - count)) & 1;
        }
        else
        {
            UInt128 wide = ((UInt128)Flags.U(b) << bits) | Flags.U(a);
            r = T.CreateTruncating((ulong)(wide >> count));
            cf = (ulong)(wide >> (count - 1)) & 1;
        }

        if (F.On)
        {
            ulong of = ((Flags.U(r) ^ Flags.U(a)) >> (bits - 1)) & 1;
            Flags.SetStatus(c, cf | Flags.Szp(r) | (of << 11));
        }

        return r;
    }
}
