using System.Numerics;
using System.Runtime.CompilerServices;
using static TdxSim.Cpu.Exec.Operands;

namespace TdxSim.Cpu.Exec;

/// <summary>PUSH, POP, PUSHF, POPF, LEAVE, ENTER (level 0). RSP changes only once the memory access succeeded.</summary>
internal static unsafe class StackOps
{
    private static readonly byte Rbp = CpuCore.RegOffset(5);

    /// <summary>RFLAGS bits POPF may change at CPL 0 (SDM Vol. 2B "POPF"): VM, VIF, VIP keep their value, RF is cleared.</summary>
    private const ulong PopfWritable = Flags.Status | Flags.Tf | Flags.If | Flags.Df | (3UL << 12) | (1UL << 14) | (1UL << 18) | (1UL << 21);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int Push<T>(CpuCore* c, T value)
        where T : unmanaged
    {
        ref ulong rsp = ref Gpr(c, 4);
        ulong sp = rsp - (ulong)sizeof(T);
        int status = MemoryAccess.Store(c, sp, value);
        if (status != Status.Exit)
        {
            rsp = sp;
        }

        return status;
    }

    public static int PushR<T>(CpuCore* c, Op* op)
        where T : unmanaged => Push(c, Reg<T>(c, op->Src));

    public static int PushI<T>(CpuCore* c, Op* op)
        where T : unmanaged, IBinaryInteger<T> => Push(c, Imm<T>(op));

    public static int PushM<T>(CpuCore* c, Op* op)
        where T : unmanaged
    {
        if (!MemoryAccess.TryRead(c, Ea(c, op), out T v))
        {
            return Status.Exit;
        }

        return Push(c, v);
    }

    public static int PopR<T>(CpuCore* c, Op* op)
        where T : unmanaged
    {
        ref ulong rsp = ref Gpr(c, 4);
        if (!MemoryAccess.TryRead(c, rsp, out T v))
        {
            return Status.Exit;
        }

        rsp += (ulong)sizeof(T);
        SetReg(c, op->Dst, v);
        return Status.Continue;
    }

    /// <summary>POP r/m: the address is computed after RSP is incremented (SDM Vol. 2B "POP").</summary>
    public static int PopM<T>(CpuCore* c, Op* op)
        where T : unmanaged
    {
        ref ulong rsp = ref Gpr(c, 4);
        ulong oldSp = rsp;
        if (!MemoryAccess.TryRead(c, oldSp, out T v))
        {
            return Status.Exit;
        }

        rsp = oldSp + (ulong)sizeof(T);
        int status = MemoryAccess.Store(c, Ea(c, op), v);
        if (status == Status.Exit)
        {
            rsp = oldSp;
        }

        return status;
    }

    /// <summary>PUSHF(Q): RFLAGS with VM and RF read as zero.</summary>
    public static int Pushf<T>(CpuCore* c, Op* op)
        where T : unmanaged, IBinaryInteger<T> => Push(c, T.CreateTruncating(c->State.Rflags & ~((1UL << 16) | (1UL << 17))));

    public static int Popf<T>(CpuCore* c, Op* op)
        where T : unmanaged, IBinaryInteger<T>
    {
        ref ulong rsp = ref Gpr(c, 4);
        if (!MemoryAccess.TryRead(c, rsp, out T v))
        {
            return Status.Exit;
        }

        rsp += (ulong)sizeof(T);
        ulong writable = PopfWritable & (ulong.MaxValue >> (64 - Flags.Bits<T>()));
        c->State.Rflags = ((c->State.Rflags & ~writable & ~(1UL << 16)) | (Flags.U(v) & writable)) | 2;
        return Status.Continue;
    }

    public static int Leave(CpuCore* c, Op* op)
    {
        ulong frame = Reg<ulong>(c, Rbp);
        if (!MemoryAccess.TryRead(c, frame, out ulong saved))
        {
            return Status.Exit;
        }

        Gpr(c, 4) = frame + 8;
        SetReg(c, Rbp, saved);
        return Status.Continue;
    }

    /// <summary>ENTER imm16, 0: push RBP, RBP = RSP, RSP -= imm16.</summary>
    public static int Enter(CpuCore* c, Op* op)
    {
        ulong rbp = Reg<ulong>(c, Rbp);
        int status = Push(c, rbp);
        if (status == Status.Exit)
        {
            return status;
        }

        ulong sp = Gpr(c, 4);
        SetReg(c, Rbp, sp);
        Gpr(c, 4) = sp - op->Imm;
        return status;
    }
}
