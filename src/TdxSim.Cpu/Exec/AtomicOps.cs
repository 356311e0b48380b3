using System.Numerics;
using System.Runtime.CompilerServices;
using static TdxSim.Cpu.Exec.Operands;

namespace TdxSim.Cpu.Exec;

/// <summary>CMPXCHG, XADD, CMPXCHG8B and CMPXCHG16B; the memory forms are always atomic (with or without LOCK,
/// which costs nothing extra here and keeps a missing LOCK in guest code from turning into a torn update).</summary>
internal static unsafe class AtomicOps
{
    /// <summary>CMPXCHG r/m, r with a register destination. On a mismatch only the accumulator is written: a 32-bit
    /// destination register keeps bits 63:32 (what the CPU does; the SDM pseudocode's write-back would clear them).</summary>
    public static int CmpxchgR<T>(CpuCore* c, Op* op)
        where T : unmanaged, IBinaryInteger<T>, IUnsignedNumber<T>
    {
        byte acc = CpuCore.RegOffset(0);
        T dest = Reg<T>(c, op->Dst);
        T a = Reg<T>(c, acc);
        SubOp.Exec<T, FlagsOn>(c, a, dest);
        if (a == dest)
        {
            SetReg(c, op->Dst, Reg<T>(c, op->Src));
        }
        else
        {
            SetReg(c, acc, dest);
        }

        return Status.Continue;
    }

    public static int CmpxchgM<T>(CpuCore* c, Op* op)
        where T : unmanaged, IBinaryInteger<T>, IUnsignedNumber<T>
    {
        int status = Status.Continue;
        byte* p = Atomics.LockedPointer(c, Ea(c, op), (uint)sizeof(T), ref status);
        if (p == null)
        {
            return Status.Exit;
        }

        byte acc = CpuCore.RegOffset(0);
        T a = Reg<T>(c, acc);
        T old;
        using (Atomics.AtomicScope scope = Atomics.Scope(p, sizeof(T)))
        {
            old = scope.CompareExchange(ref Unsafe.AsRef<T>(p), Reg<T>(c, op->Src), a);
        }

        SubOp.Exec<T, FlagsOn>(c, a, old);
        if (old != a)
        {
            SetReg(c, acc, old);
        }

        return status;
    }

    public static int XaddR<T>(CpuCore* c, Op* op)
        where T : unmanaged, IBinaryInteger<T>, IUnsignedNumber<T>
    {
        T dest = Reg<T>(c, op->Dst);
        T sum = AddOp.Exec<T, FlagsOn>(c, dest, Reg<T>(c, op->Src));
        SetReg(c, op->Src, dest);
        SetReg(c, op->Dst, sum);
        return Status.Continue;
    }

    public static int XaddM<T>(CpuCore* c, Op* op)
        where T : unmanaged, IBinaryInteger<T>, IUnsignedNumber<T>
    {
        int status = Status.Continue;
        byte* p = Atomics.LockedPointer(c, Ea(c, op), (uint)sizeof(T), ref status);
        if (p == null)
        {
            return Status.Exit;
        }

        T src = Reg<T>(c, op->Src);
        ref T location = ref Unsafe.AsRef<T>(p);
        T old;
        using (Atomics.AtomicScope scope = Atomics.Scope(p, sizeof(T)))
        {
            old = scope.Read(ref location);
            while (true)
            {
                T seen = scope.CompareExchange(ref location, old + src, old);
                if (seen == old)
                {
                    break;
                }

                old = seen;
            }
        }

        AddOp.Exec<T, FlagsOn>(c, old, src);
        SetReg(c, op->Src, old);
        return status;
    }

    /// <summary>CMPXCHG8B m64: EDX:EAX against memory, ECX:EBX stored on a match; only ZF changes.</summary>
    public static int Cmpxchg8b(CpuCore* c, Op* op)
    {
        int status = Status.Continue;
        byte* p = Atomics.LockedPointer(c, Ea(c, op), 8, ref status);
        if (p == null)
        {
            return Status.Exit;
        }

        ulong expected = ((ulong)(uint)Gpr(c, 2) << 32) | (uint)Gpr(c, 0);
        ulong desired = ((ulong)(uint)Gpr(c, 1) << 32) | (uint)Gpr(c, 3);
        ulong old;
        using (Atomics.AtomicScope scope = Atomics.Scope(p, 8))
        {
            old = scope.CompareExchange(ref Unsafe.AsRef<ulong>(p), desired, expected);
        }

        if (old == expected)
        {
            Flags.Set(c, Flags.Zf, Flags.Zf);
        }
        else
        {
            Flags.Set(c, Flags.Zf, 0);
            Gpr(c, 0) = (uint)old;
            Gpr(c, 2) = old >> 32;
        }

        return status;
    }

    /// <summary>CMPXCHG16B m128: RDX:RAX against memory, RCX:RBX stored on a match; #GP(0) unless 16-byte aligned.
    /// .NET has no 128-bit interlocked operation, so this serialises on the process-wide lock.</summary>
    public static int Cmpxchg16b(CpuCore* c, Op* op)
    {
        ulong ea = Ea(c, op);
        if ((ea & 15) != 0)
        {
            c->SetException(CpuExit.GeneralProtection, 0, FaultDetail.None);
            return Status.Exit;
        }

        int status = Status.Continue;
        byte* p = Atomics.LockedPointer(c, ea, 16, ref status);
        if (p == null)
        {
            return Status.Exit;
        }

        ulong lo, hi;
        bool match;
        lock (Atomics.WideLock)
        {
            lo = Volatile.Read(ref *(ulong*)p);
            hi = Volatile.Read(ref *(ulong*)(p + 8));
            match = lo == Gpr(c, 0) && hi == Gpr(c, 2);
            if (match)
            {
                Volatile.Write(ref *(ulong*)p, Gpr(c, 3));
                Volatile.Write(ref *(ulong*)(p + 8), Gpr(c, 1));
            }
        }

        if (match)
        {
            Flags.Set(c, Flags.Zf, Flags.Zf);
        }
        else
        {
            Flags.Set(c, Flags.Zf, 0);
            Gpr(c, 0) = lo;
            Gpr(c, 2) = hi;
        }

        return status;
    }
}
