using System.Numerics;
using System.Runtime.CompilerServices;
using static TdxSim.Cpu.Exec.Operands;

namespace TdxSim.Cpu.Exec;

/// <summary>A two-operand ALU operation: result and, when the flag mode says so, the status flags.</summary>
internal unsafe interface IBinaryOp
{
    /// <summary>False for CMP and TEST, which only set flags.</summary>
    static abstract bool WritesResult { get; }

    static abstract T Exec<T, F>(CpuCore* c, T a, T b)
        where T : unmanaged, IBinaryInteger<T>, IUnsignedNumber<T>
        where F : struct, IFlagMode;
}

internal unsafe struct AddOp : IBinaryOp
{
    public static bool WritesResult => true;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static T Exec<T, F>(CpuCore* c, T a, T b)
        where T : unmanaged, IBinaryInteger<T>, IUnsignedNumber<T>
        where F : struct, IFlagMode
    {
        T r = a + b;
        if (F.On)
        {
            Flags.SetStatus(c, Flags.Add(a, b, r, r < a));
        }

        return r;
    }
}

internal unsafe struct AdcOp : IBinaryOp
{
    public static bool WritesResult => true;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static T Exec<T, F>(CpuCore* c, T a, T b)
        where T : unmanaged, IBinaryInteger<T>, IUnsignedNumber<T>
        where F : struct, IFlagMode
    {
        bool cin = (c->State.Rflags & Flags.Cf) != 0;
        T r = a + b + (cin ? T.One : T.Zero);
        if (F.On)
        {
            Flags.SetStatus(c, Flags.Add(a, b, r, cin ? r <= a : r < a));
        }

        return r;
    }
}

internal unsafe struct SubOp : IBinaryOp
{
    public static bool WritesResult => true;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static T Exec<T, F>(CpuCore* c, T a, T b)
        where T : unmanaged, IBinaryInteger<T>, IUnsignedNumber<T>
        where F : struct, IFlagMode
    {
        T r = a - b;
        if (F.On)
        {
            Flags.SetStatus(c, Flags.Sub(a, b, r, a < b));
        }

        return r;
    }
}

internal unsafe struct SbbOp : IBinaryOp
{
    public static bool WritesResult => true;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static T Exec<T, F>(CpuCore* c, T a, T b)
        where T : unmanaged, IBinaryInteger<T>, IUnsignedNumber<T>
        where F : struct, IFlagMode
    {
        bool bin = (c->State.Rflags & Flags.Cf) != 0;
        T r = a - b - (bin ? T.One : T.Zero);
        if (F.On)
        {
            Flags.SetStatus(c, Flags.Sub(a, b, r, bin ? a <= b : a < b));
        }

        return r;
    }
}

internal unsafe struct CmpOp : IBinaryOp
{
    public static bool WritesResult => false;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static T Exec<T, F>(CpuCore* c, T a, T b)
        where T : unmanaged, IBinaryInteger<T>, IUnsignedNumber<T>
        where F : struct, IFlagMode => SubOp.Exec<T, F>(c, a, b);
}

internal unsafe struct AndOp : IBinaryOp
{
    public static bool WritesResult => true;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static T Exec<T, F>(CpuCore* c, T a, T b)
        where T : unmanaged, IBinaryInteger<T>, IUnsignedNumber<T>
        where F : struct, IFlagMode
    {
        T r = a & b;
        if (F.On)
        {
            Flags.SetStatus(c, Flags.Logic(r));
        }

        return r;
    }
}

internal unsafe struct TestOp : IBinaryOp
{
    public static bool WritesResult => false;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static T Exec<T, F>(CpuCore* c, T a, T b)
        where T : unmanaged, IBinaryInteger<T>, IUnsignedNumber<T>
        where F : struct, IFlagMode => AndOp.Exec<T, F>(c, a, b);
}

internal unsafe struct OrOp : IBinaryOp
{
    public static bool WritesResult => true;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static T Exec<T, F>(CpuCore* c, T a, T b)
        where T : unmanaged, IBinaryInteger<T>, IUnsignedNumber<T>
        where F : struct, IFlagMode
    {
        T r = a | b;
        if (F.On)
        {
            Flags.SetStatus(c, Flags.Logic(r));
        }

        return r;
    }
}

internal unsafe struct XorOp : IBinaryOp
{
    public static bool WritesResult => true;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static T Exec<T, F>(CpuCore* c, T a, T b)
        where T : unmanaged, IBinaryInteger<T>, IUnsignedNumber<T>
        where F : struct, IFlagMode
    {
        T r = a ^ b;
        if (F.On)
        {
            Flags.SetStatus(c, Flags.Logic(r));
        }

        return r;
    }
}

/// <summary>Operand forms of the two-operand ALU instructions (ADD, OR, ADC, SBB, AND, SUB, XOR, CMP, TEST).</summary>
internal static unsafe class Alu
{
    public static int RR<T, TOp, F>(CpuCore* c, Op* op)
        where T : unmanaged, IBinaryInteger<T>, IUnsignedNumber<T>
        where TOp : struct, IBinaryOp
        where F : struct, IFlagMode
    {
        T r = TOp.Exec<T, F>(c, Reg<T>(c, op->Dst), Reg<T>(c, op->Src));
        if (TOp.WritesResult)
        {
            SetReg(c, op->Dst, r);
        }

        return Status.Continue;
    }

    public static int RI<T, TOp, F>(CpuCore* c, Op* op)
        where T : unmanaged, IBinaryInteger<T>, IUnsignedNumber<T>
        where TOp : struct, IBinaryOp
        where F : struct, IFlagMode
    {
        T r = TOp.Exec<T, F>(c, Reg<T>(c, op->Dst), Imm<T>(op));
        if (TOp.WritesResult)
        {
            SetReg(c, op->Dst, r);
        }

        return Status.Continue;
    }

    public static int RM<T, TOp, F>(CpuCore* c, Op* op)
        where T : unmanaged, IBinaryInteger<T>, IUnsignedNumber<T>
        where TOp : struct, IBinaryOp
        where F : struct, IFlagMode
    {
        if (!MemoryAccess.TryRead(c, Ea(c, op), out T b))
        {
            return Status.Exit;
        }

        T r = TOp.Exec<T, F>(c, Reg<T>(c, op->Dst), b);
        if (TOp.WritesResult)
        {
            SetReg(c, op->Dst, r);
        }

        return Status.Continue;
    }

    public static int MR<T, TOp, F>(CpuCore* c, Op* op)
        where T : unmanaged, IBinaryInteger<T>, IUnsignedNumber<T>
        where TOp : struct, IBinaryOp
        where F : struct, IFlagMode => Mem<T, TOp, F>(c, op, Reg<T>(c, op->Src));

    public static int MI<T, TOp, F>(CpuCore* c, Op* op)
        where T : unmanaged, IBinaryInteger<T>, IUnsignedNumber<T>
        where TOp : struct, IBinaryOp
        where F : struct, IFlagMode => Mem<T, TOp, F>(c, op, Imm<T>(op));

    public static int MRLock<T, TOp, F>(CpuCore* c, Op* op)
        where T : unmanaged, IBinaryInteger<T>, IUnsignedNumber<T>
        where TOp : struct, IBinaryOp
        where F : struct, IFlagMode => MemLocked<T, TOp, F>(c, op, Reg<T>(c, op->Src));

    public static int MILock<T, TOp, F>(CpuCore* c, Op* op)
        where T : unmanaged, IBinaryInteger<T>, IUnsignedNumber<T>
        where TOp : struct, IBinaryOp
        where F : struct, IFlagMode => MemLocked<T, TOp, F>(c, op, Imm<T>(op));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int Mem<T, TOp, F>(CpuCore* c, Op* op, T b)
        where T : unmanaged, IBinaryInteger<T>, IUnsignedNumber<T>
        where TOp : struct, IBinaryOp
        where F : struct, IFlagMode
    {
        ulong ea = Ea(c, op);
        if (!TOp.WritesResult)
        {
            if (!MemoryAccess.TryRead(c, ea, out T a))
            {
                return Status.Exit;
            }

            TOp.Exec<T, F>(c, a, b);
            return Status.Continue;
        }

        int status = Status.Continue;
        byte* p = MemoryAccess.Write(c, ea, (uint)sizeof(T), ref status, Access.ReadWrite);
        if (p == null)
        {
            return Status.Exit;
        }

        Unsafe.WriteUnaligned(p, TOp.Exec<T, F>(c, Unsafe.ReadUnaligned<T>(p), b));
        return status;
    }

    /// <summary>LOCK-prefixed read-modify-write: a compare-exchange loop on the host location, atomic against other vCPUs.</summary>
    private static int MemLocked<T, TOp, F>(CpuCore* c, Op* op, T b)
        where T : unmanaged, IBinaryInteger<T>, IUnsignedNumber<T>
        where TOp : struct, IBinaryOp
        where F : struct, IFlagMode
    {
        int status = Status.Continue;
        byte* p = Atomics.LockedPointer(c, Ea(c, op), (uint)sizeof(T), ref status);
        if (p == null)
        {
            return Status.Exit;
        }

        ulong savedFlags = c->State.Rflags;
        using Atomics.AtomicScope scope = Atomics.Scope(p, sizeof(T));
        ref T location = ref Unsafe.AsRef<T>(p);
        T a = scope.Read(ref location);
        while (true)
        {
            c->State.Rflags = savedFlags;
            T r = TOp.Exec<T, F>(c, a, b);
            T seen = scope.CompareExchange(ref location, r, a);
            if (seen == a)
            {
                break;
            }

            a = seen;
        }

        return status;
    }
}
