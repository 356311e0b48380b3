using System.Buffers.Binary;
using System.Numerics;
using System.Runtime.CompilerServices;
using static TdxSim.Cpu.Exec.Operands;

namespace TdxSim.Cpu.Exec;

/// <summary>Data movement: MOV forms, MOVZX, MOVSX(D), LEA, XCHG, BSWAP, CBW family, SETcc, CMOVcc.</summary>
internal static unsafe class MovOps
{
    public static int RR<T>(CpuCore* c, Op* op)
        where T : unmanaged
    {
        SetReg(c, op->Dst, Reg<T>(c, op->Src));
        return Status.Continue;
    }

    public static int RI<T>(CpuCore* c, Op* op)
        where T : unmanaged, IBinaryInteger<T>
    {
        SetReg(c, op->Dst, Imm<T>(op));
        return Status.Continue;
    }

    public static int RM<T>(CpuCore* c, Op* op)
        where T : unmanaged
    {
        if (!MemoryAccess.TryRead(c, Ea(c, op), out T v))
        {
            return Status.Exit;
        }

        SetReg(c, op->Dst, v);
        return Status.Continue;
    }

    public static int MR<T>(CpuCore* c, Op* op)
        where T : unmanaged => MemoryAccess.Store(c, Ea(c, op), Reg<T>(c, op->Src));

    public static int MI<T>(CpuCore* c, Op* op)
        where T : unmanaged, IBinaryInteger<T> => MemoryAccess.Store(c, Ea(c, op), Imm<T>(op));

    /// <summary>MOVZX/MOVSX/MOVSXD from a register.</summary>
    public static int ExtendR<TD, TS, TSign>(CpuCore* c, Op* op)
        where TD : unmanaged, IBinaryInteger<TD>
        where TS : unmanaged, IBinaryInteger<TS>
        where TSign : struct, IFlagMode
    {
        SetReg(c, op->Dst, Extend<TD, TS, TSign>(Reg<TS>(c, op->Src)));
        return Status.Continue;
    }

    /// <summary>MOVZX/MOVSX/MOVSXD from memory.</summary>
    public static int ExtendM<TD, TS, TSign>(CpuCore* c, Op* op)
        where TD : unmanaged, IBinaryInteger<TD>
        where TS : unmanaged, IBinaryInteger<TS>
        where TSign : struct, IFlagMode
    {
        if (!MemoryAccess.TryRead(c, Ea(c, op), out TS v))
        {
            return Status.Exit;
        }

        SetReg(c, op->Dst, Extend<TD, TS, TSign>(v));
        return Status.Continue;
    }

    /// <summary>Zero- or sign-extends (<typeparamref name="TSign"/> On = signed) a value of width TS to width TD.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TD Extend<TD, TS, TSign>(TS v)
        where TD : unmanaged, IBinaryInteger<TD>
        where TS : unmanaged, IBinaryInteger<TS>
        where TSign : struct, IFlagMode
    {
        ulong u = Flags.U(v);
        if (TSign.On)
        {
            int shift = 64 - Flags.Bits<TS>();
            u = (ulong)((long)(u << shift) >> shift);
        }

        return TD.CreateTruncating(u);
    }

    public static int Lea<T>(CpuCore* c, Op* op)
        where T : unmanaged, IBinaryInteger<T>
    {
        SetReg(c, op->Dst, T.CreateTruncating(Offset(c, op)));
        return Status.Continue;
    }

    public static int XchgRR<T>(CpuCore* c, Op* op)
        where T : unmanaged
    {
        T a = Reg<T>(c, op->Dst);
        T b = Reg<T>(c, op->Src);
        SetReg(c, op->Dst, b);
        SetReg(c, op->Src, a);
        return Status.Continue;
    }

    /// <summary>XCHG with memory: always locked (SDM Vol. 2D "XCHG").</summary>
    public static int XchgRM<T>(CpuCore* c, Op* op)
        where T : unmanaged
    {
        int status = Status.Continue;
        byte* p = Atomics.LockedPointer(c, Ea(c, op), (uint)sizeof(T), ref status);
        if (p == null)
        {
            return Status.Exit;
        }

        T old;
        using (Atomics.AtomicScope scope = Atomics.Scope(p, sizeof(T)))
        {
            old = scope.Exchange(ref Unsafe.AsRef<T>(p), Reg<T>(c, op->Dst));
        }

        SetReg(c, op->Dst, old);
        return status;
    }

    public static int Bswap32(CpuCore* c, Op* op)
    {
        SetReg(c, op->Dst, BinaryPrimitives.ReverseEndianness(Reg<uint>(c, op->Dst)));
        return Status.Continue;
    }

    public static int Bswap64(CpuCore* c, Op* op)
    {
        SetReg(c, op->Dst, BinaryPrimitives.ReverseEndianness(Reg<ulong>(c, op->Dst)));
        return Status.Continue;
    }

    /// <summary>BSWAP r16: undefined in the SDM; current Intel and AMD cores write zero, as here.</summary>
    public static int Bswap16(CpuCore* c, Op* op)
    {
        SetReg(c, op->Dst, (ushort)0);
        return Status.Continue;
    }

    /// <summary>CBW / CWDE / CDQE: sign-extend the low half of the accumulator into the whole (TD = full width).</summary>
    public static int ExtendAccumulator<TD, TS>(CpuCore* c, Op* op)
        where TD : unmanaged, IBinaryInteger<TD>
        where TS : unmanaged, IBinaryInteger<TS>
    {
        byte rax = CpuCore.RegOffset(0);
        SetReg(c, rax, Extend<TD, TS, FlagsOn>(Reg<TS>(c, rax)));
        return Status.Continue;
    }

    /// <summary>CWD / CDQ / CQO: fill rDX with the sign of rAX.</summary>
    public static int SignToRdx<T>(CpuCore* c, Op* op)
        where T : unmanaged, IBinaryInteger<T>
    {
        T a = Reg<T>(c, CpuCore.RegOffset(0));
        SetReg(c, CpuCore.RegOffset(2), Flags.IsNegative(a) ? T.AllBitsSet : T.Zero);
        return Status.Continue;
    }

    public static int SetccR<TC>(CpuCore* c, Op* op)
        where TC : struct, ICondition
    {
        SetReg(c, op->Dst, TC.Test(c->State.Rflags) ? (byte)1 : (byte)0);
        return Status.Continue;
    }

    public static int SetccM<TC>(CpuCore* c, Op* op)
        where TC : struct, ICondition => MemoryAccess.Store(c, Ea(c, op), TC.Test(c->State.Rflags) ? (byte)1 : (byte)0);

    public static int CmovRR<T, TC>(CpuCore* c, Op* op)
        where T : unmanaged
        where TC : struct, ICondition
    {
        // A 32-bit CMOV zero-extends its destination even when the condition is false.
        SetReg(c, op->Dst, TC.Test(c->State.Rflags) ? Reg<T>(c, op->Src) : Reg<T>(c, op->Dst));
        return Status.Continue;
    }

    public static int CmovRM<T, TC>(CpuCore* c, Op* op)
        where T : unmanaged
        where TC : struct, ICondition
    {
        // The source is read (and may fault) whatever the condition.
        if (!MemoryAccess.TryRead(c, Ea(c, op), out T v))
        {
            return Status.Exit;
        }

        SetReg(c, op->Dst, TC.Test(c->State.Rflags) ? v : Reg<T>(c, op->Dst));
        return Status.Continue;
    }
}
