using static TdxSim.Cpu.Exec.Operands;

namespace TdxSim.Cpu.Exec;

/// <summary>
/// Exception and interrupt delivery through a 64-bit IDT (SDM Vol. 3A 6.14): 16-byte interrupt and trap gates, the
/// IST stacks of the 64-bit TSS, the five-word frame (SS, RSP, RFLAGS, CS, RIP) plus the error code of the vectors
/// that have one, RSP aligned to 16, IF cleared by interrupt gates; a fault while delivering escalates by the SDM's
/// classes (table 6-5) to #DF, and a fault while delivering #DF is a triple fault (the run ends: a TD cannot be
/// reset). IRETQ undoes the frame. Everything runs at CPL 0.
/// </summary>
internal static unsafe class Interrupts
{
    private const byte Df = 8;
    private const byte Ts = 10;
    private const byte Np = 11;
    private const byte Ss = 12;
    private const byte Gp = 13;
    private const byte Pf = 14;
    private const byte Ve = 20;

    /// <summary>Whether exception <paramref name="vector"/> pushes an error code.</summary>
    public static bool HasErrorCode(byte vector) => vector is 8 or 10 or 11 or 12 or 13 or 14 or 17 or 21 or 29 or 30;

    private static bool Contributory(byte v) => v is 0 or Ts or Np or Ss or Gp;

    /// <summary>Delivers <paramref name="vector"/> at the current RIP (the return address); false when it ended in a
    /// triple fault (stored in the core as the exit).</summary>
    public static bool Deliver(CpuCore* c, byte vector, uint errorCode)
    {
        byte current = vector;
        uint code = errorCode;
        for (int depth = 0; depth < 4; depth++)
        {
            if (current == Pf)
            {
                c->State.Cr2 = c->VeGla;
            }

            c->Exit = CoreExit.None;
            if (DeliverOnce(c, current, code))
            {
                return true;
            }

            if (c->Exit != CoreExit.Exception)
            {
                // An EPT violation or #VE while delivering (the IDT or stack on a page the TD cannot use): a TD
                // cannot take a #VE here either; end the run with that exit.
                return false;
            }

            byte second = c->Vector;
            if (current == Df)
            {
                break;
            }

            bool firstPf = current is Pf or Ve;
            if ((Contributory(current) && Contributory(second)) || (firstPf && (second == Pf || Contributory(second))))
            {
                current = Df;
                code = 0;
            }
            else
            {
                current = second;
                code = c->ErrorCode;
            }
        }

        c->SetException(Df, 0, FaultDetail.TripleFault);
        c->VeQualification = c->Vector;
        return false;
    }

    private static bool DeliverOnce(CpuCore* c, byte vector, uint code)
    {
        uint gateOffset = (uint)vector * 16;
        uint selectorCode = ((uint)vector << 3) | 2;
        if (gateOffset + 15 > c->State.IdtrLimit)
        {
            c->SetException(Gp, selectorCode, FaultDetail.BadGate);
            return false;
        }

        ulong gateLa = c->State.IdtrBase + gateOffset;
        if (!MemoryAccess.TryRead(c, gateLa, out ulong lo) || !MemoryAccess.TryRead(c, gateLa + 8, out ulong hi))
        {
            return false;
        }

        uint type = (uint)(lo >> 40) & 0xF;
        if (type is not (0xE or 0xF))
        {
            c->SetException(Gp, selectorCode, FaultDetail.BadGate);
            return false;
        }

        if ((lo & (1UL << 47)) == 0)
        {
            c->SetException(Np, selectorCode, FaultDetail.BadGate);
            return false;
        }

        ushort selector = (ushort)(lo >> 16);
        ulong target = (lo & 0xFFFF) | ((lo >> 32) & 0xFFFF_0000) | (hi << 32);
        int ist = (int)(lo >> 32) & 7;
        ulong oldRsp = Gpr(c, 4);
        ulong rsp = oldRsp;
        if (ist != 0)
        {
            uint tssOffset = 0x24 + ((uint)(ist - 1) * 8);
            if (c->State.Tr == 0 || tssOffset + 7 > c->State.TrLimit)
            {
                c->SetException(Ts, (uint)c->State.Tr & 0xFFFC, FaultDetail.BadTss);
                return false;
            }

            if (!MemoryAccess.TryRead(c, c->State.TrBase + tssOffset, out rsp))
            {
                return false;
            }
        }

        rsp &= ~0xFUL;
        bool withCode = HasErrorCode(vector);
        ulong frame = rsp - (withCode ? 48UL : 40UL);
        if (MemoryAccess.Store(c, rsp - 8, (ulong)c->State.Ss) == Status.Exit
            || MemoryAccess.Store(c, rsp - 16, oldRsp) == Status.Exit
            || MemoryAccess.Store(c, rsp - 24, c->State.Rflags) == Status.Exit
            || MemoryAccess.Store(c, rsp - 32, (ulong)c->State.Cs) == Status.Exit
            || MemoryAccess.Store(c, rsp - 40, c->State.Rip) == Status.Exit
            || (withCode && MemoryAccess.Store(c, rsp - 48, (ulong)code) == Status.Exit))
        {
            return false;
        }

        Gpr(c, 4) = frame;
        c->State.Cs = selector;
        c->State.Rip = target;
        ulong clear = Rflags.Tf | Rflags.Nt | Rflags.Rf | Rflags.Vm | (type == 0xE ? Rflags.If : 0);
        c->State.Rflags &= ~clear;
        c->State.InterruptsDelivered++;
        return true;
    }

    /// <summary>IRETQ (64-bit operand size): pops RIP, CS, RFLAGS, RSP, SS. IRETD/IRET (Aux = 4/2) likewise with narrower slots.</summary>
    public static int Iret(CpuCore* c, Op* op)
    {
        ulong sp = Gpr(c, 4);
        ulong rip, cs, flags, rsp, ss;
        if (op->Aux == 8)
        {
            if (!MemoryAccess.TryRead(c, sp, out rip) || !MemoryAccess.TryRead(c, sp + 8, out cs)
                || !MemoryAccess.TryRead(c, sp + 16, out flags) || !MemoryAccess.TryRead(c, sp + 24, out rsp)
                || !MemoryAccess.TryRead(c, sp + 32, out ss))
            {
                return Status.Exit;
            }
        }
        else
        {
            if (!MemoryAccess.TryRead(c, sp, out uint r32) || !MemoryAccess.TryRead(c, sp + 4, out uint cs32)
                || !MemoryAccess.TryRead(c, sp + 8, out uint f32) || !MemoryAccess.TryRead(c, sp + 12, out uint sp32)
                || !MemoryAccess.TryRead(c, sp + 16, out uint ss32))
            {
                return Status.Exit;
            }

            (rip, cs, flags, rsp, ss) = (r32, cs32, f32, sp32, ss32);
        }

        if ((cs & 3) != 0)
        {
            c->SetException(Gp, (uint)cs & 0xFFFC, FaultDetail.Unsupported);
            return Status.Exit;
        }

        const ulong writable = Rflags.Status | Rflags.Tf | Rflags.If | Rflags.Df | Rflags.Iopl | Rflags.Nt | Rflags.Rf | Rflags.Ac | Rflags.Id;
        c->State.Rflags = (c->State.Rflags & ~writable) | (flags & writable) | Rflags.Reserved1;
        c->State.Cs = (ushort)cs;
        c->State.Ss = (ushort)ss;
        Gpr(c, 4) = rsp;
        c->State.Rip = rip;
        return Status.Continue;
    }
}
