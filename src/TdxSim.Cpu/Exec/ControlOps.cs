using static TdxSim.Cpu.Exec.Operands;

namespace TdxSim.Cpu.Exec;

/// <summary>
/// Control transfers. Each ends its block; the run loop presets RIP to the fall-through address before running the
/// block, so a handler only writes RIP when the transfer is taken. Imm holds a direct branch target.
/// </summary>
internal static unsafe class ControlOps
{
    public static int Jmp(CpuCore* c, Op* op)
    {
        c->State.Rip = op->Imm;
        return Status.Continue;
    }

    public static int Jcc<TC>(CpuCore* c, Op* op)
        where TC : struct, ICondition
    {
        if (TC.Test(c->State.Rflags))
        {
            c->State.Rip = op->Imm;
        }

        return Status.Continue;
    }

    public static int JmpR(CpuCore* c, Op* op)
    {
        c->State.Rip = Reg<ulong>(c, op->Src);
        return Status.Continue;
    }

    public static int JmpM(CpuCore* c, Op* op)
    {
        if (!MemoryAccess.TryRead(c, Ea(c, op), out ulong target))
        {
            return Status.Exit;
        }

        c->State.Rip = target;
        return Status.Continue;
    }

    public static int Call(CpuCore* c, Op* op) => CallTo(c, op, op->Imm);

    public static int CallR(CpuCore* c, Op* op) => CallTo(c, op, Reg<ulong>(c, op->Src));

    public static int CallM(CpuCore* c, Op* op)
    {
        if (!MemoryAccess.TryRead(c, Ea(c, op), out ulong target))
        {
            return Status.Exit;
        }

        return CallTo(c, op, target);
    }

    private static int CallTo(CpuCore* c, Op* op, ulong target)
    {
        int status = StackOps.Push(c, op->NextRip);
        if (status != Status.Exit)
        {
            c->State.Rip = target;
        }

        return status;
    }

    /// <summary>RET and RET imm16 (Imm = bytes to release after popping the return address).</summary>
    public static int Ret(CpuCore* c, Op* op)
    {
        ref ulong rsp = ref Gpr(c, 4);
        if (!MemoryAccess.TryRead(c, rsp, out ulong target))
        {
            return Status.Exit;
        }

        rsp += 8 + op->Imm;
        c->State.Rip = target;
        return Status.Continue;
    }

    /// <summary>LOOP (Aux = 0), LOOPE (1), LOOPNE (2); Aux3 = 1 counts with ECX (67 prefix). Flags are not changed.</summary>
    public static int Loop(CpuCore* c, Op* op)
    {
        ref ulong rcx = ref Gpr(c, 1);
        ulong count = op->Aux3 != 0 ? (uint)(rcx - 1) : rcx - 1;
        rcx = count;
        bool zf = (c->State.Rflags & Flags.Zf) != 0;
        bool taken = count != 0 && op->Aux switch
        {
            1 => zf,
            2 => !zf,
            _ => true,
        };
        if (taken)
        {
            c->State.Rip = op->Imm;
        }

        return Status.Continue;
    }

    /// <summary>JRCXZ (Aux3 = 0) / JECXZ (Aux3 = 1).</summary>
    public static int Jrcxz(CpuCore* c, Op* op)
    {
        ulong rcx = Gpr(c, 1);
        if ((op->Aux3 != 0 ? (uint)rcx : rcx) == 0)
        {
            c->State.Rip = op->Imm;
        }

        return Status.Continue;
    }
}
