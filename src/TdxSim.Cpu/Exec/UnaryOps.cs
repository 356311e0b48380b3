using System.Numerics;
using System.Runtime.CompilerServices;
using static TdxSim.Cpu.Exec.Operands;

namespace TdxSim.Cpu.Exec;

/// <summary>A one-operand read-modify-write operation (INC, DEC, NEG, NOT).</summary>
internal unsafe interface IUnaryOp
{
    static abstract T Exec<T, F>(CpuCore* c, T a)
        where T : unmanaged, IBinaryInteger<T>, IUnsignedNumber<T>
        where F : struct, IFlagMode;
}

internal unsafe struct IncOp : IUnaryOp
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static T Exec<T, F>(CpuCore* c, T a)
        where T : unmanaged, IBinaryInteger<T>, IUnsignedNumber<T>
        where F : struct, IFlagMode
    {
        T r = a + T.One;
        if (F.On)
        {
            // INC leaves CF alone (SDM Vol. 2A "INC").
            Flags.Set(c, Flags.Status & ~Flags.Cf, Flags.Add(a, T.One, r, false));
        }

        return r;
    }
}

internal unsafe struct DecOp : IUnaryOp
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static T Exec<T, F>(CpuCore* c, T a)
        where T : unmanaged, IBinaryInteger<T>, IUnsignedNumber<T>
        where F : struct, IFlagMode
    {
        T r = a - T.One;
        if (F.On)
        {
            Flags.Set(c, Flags.Status & ~Flags.Cf, Flags.Sub(a, T.One, r, false));
        }

        return r;
    }
}

internal unsafe struct NegOp : IUnaryOp
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static T Exec<T, F>(CpuCore* c, T a)
        where T : unmanaged, IBinaryInteger<T>, IUnsignedNumber<T>
        where F : struct, IFlagMode
    {
        T r = T.Zero - a;
        if (F.On)
        {
            Flags.SetStatus(c, Flags.Sub(T.Zero, a, r, a != T.Zero));
        }

        return r;
    }
}

internal unsafe struct NotOp : IUnaryOp
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static T Exec<T, F>(CpuCore* c, T a)
        where T : unmanaged, IBinaryInteger<T>, IUnsignedNumber<T>
        where F : struct, IFlagMode => ~a;
}

/// <summary>Operand forms of INC, DEC, NEG and NOT.</summary>
internal static unsafe class Unary
{
    public static int R<T, TOp, F>(CpuCore* c, Op* op)
        where T : unmanaged, IBinaryInteger<T>, IUnsignedNumber<T>
        where TOp : struct, IUnaryOp
        where F : struct, IFlagMode
    {
        SetReg(c, op->Dst, TOp.Exec<T, F>(c, Reg<T>(c, op->Dst)));
        return Status.Continue;
    }

    public static int M<T, TOp, F>(CpuCore* c, Op* op)
        where T : unmanaged, IBinaryInteger<T>, IUnsignedNumber<T>
        where TOp : struct, IUnaryOp
        where F : struct, IFlagMode
    {
        int status = Status.Continue;
        byte* p = MemoryAccess.Write(c, Ea(c, op), (uint)sizeof(T), ref status, Access.ReadWrite);
        if (p == null)
        {
            return Status.Exit;
        }

        Unsafe.WriteUnaligned(p, TOp.Exec<T, F>(c, Unsafe.ReadUnaligned<T>(p)));
        return status;
    }

    public static int MLock<T, TOp, F>(CpuCore* c, Op* op)
        where T : unmanaged, IBinaryInteger<T>, IUnsignedNumber<T>
        where TOp : struct, IUnaryOp
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
            T seen = scope.CompareExchange(ref location, TOp.Exec<T, F>(c, a), a);
            if (seen == a)
            {
                return status;
            }

            a = seen;
        }
    }
}
