using TdxSim.Abi;
using static TdxSim.Cpu.Exec.Operands;

namespace TdxSim.Cpu.Exec;

/// <summary>
/// Instructions that leave the interpreter (TDCALL, and the #VE-raising I/O, CPUID, RDMSR, WRMSR, HLT of a TD,
/// reference 3.1), faults, RDTSC, flag instructions, fences and NOPs.
/// </summary>
internal static unsafe class SystemOps
{
    /// <summary>IA32_TIME_STAMP_COUNTER (SDM Vol. 4, table 2-2).</summary>
    private const uint TscMsr = 0x10;

    public static int Nop(CpuCore* c, Op* op) => Status.Continue;

    /// <summary>
    /// Recomputes whether linear addresses translate (GuestSystem and CR0.PG, CR4.PAE, EFER.LMA) and flushes the TLB
    /// when CR0, CR3, CR4 or EFER changed since it was filled (a CR3 load flushes every entry, global ones too: a TLB
    /// may always drop more than the SDM requires).
    /// </summary>
    public static void SyncTranslation(CpuCore* c)
    {
        ref CpuState s = ref c->State;
        if (s.Cr0 == c->TlbCr0 && s.Cr3 == c->TlbCr3 && s.Cr4 == c->TlbCr4 && s.Efer == c->TlbEfer)
        {
            return;
        }

        c->TlbCr0 = s.Cr0;
        c->TlbCr3 = s.Cr3;
        c->TlbCr4 = s.Cr4;
        c->TlbEfer = s.Efer;
        bool on = c->GuestSystem != 0 && (s.Cr0 & Paging.Cr0Pg) != 0 && (s.Cr4 & Paging.Cr4Pae) != 0 && (s.Efer & Paging.EferLma) != 0;
        c->Paging = on ? (byte)1 : (byte)0;
        Paging.Flush(c);
    }

    /// <summary>INVLPG m: drops the translation of the page (the whole TLB: a 2 MiB or 1 GiB mapping is held as 4 KiB
    /// entries).</summary>
    public static int Invlpg(CpuCore* c, Op* op)
    {
        if (c->Paging != 0)
        {
            Paging.Flush(c);
        }

        return Status.Continue;
    }

    /// <summary>
    /// PAUSE: a spin-wait hint. With pause-loop exiting on, every <see cref="CpuCore.PauseExitInterval"/>th PAUSE
    /// ends the run (as PLE makes a spinning vCPU exit so the host can run the lock holder).
    /// </summary>
    public static int Pause(CpuCore* c, Op* op)
    {
        c->PausesRetired++;
        uint interval = c->PauseExitInterval;
        if (interval == 0 || ++c->PausesSinceExit < interval)
        {
            return Status.Continue;
        }

        c->PausesSinceExit = 0;
        c->PauseExits++;
        return Status.Yield;
    }

    public static int Mfence(CpuCore* c, Op* op)
    {
        Interlocked.MemoryBarrier();
        return Status.Continue;
    }

    public static int Tdcall(CpuCore* c, Op* op)
    {
        c->Exit = CoreExit.Tdcall;
        return Status.Exit;
    }

    /// <summary>An instruction the TDX module turns into #VE: reason in Aux2, no qualification.</summary>
    public static int VeExit(CpuCore* c, Op* op)
    {
        c->SetVe((VeExitReason)op->Aux2, 0);
        return Status.Exit;
    }

    /// <summary>IN/OUT/INS/OUTS: #VE with the I/O qualification (Disp = qualification without the port;
    /// Aux = 1 for an immediate port in Imm, else the port is DX).</summary>
    public static int Io(CpuCore* c, Op* op)
    {
        ushort port = op->Aux == 1 ? (ushort)op->Imm : (ushort)Gpr(c, 2);
        c->SetVe(VeExitReason.IoInstruction, (ulong)op->Disp | ((ulong)port << 16));
        return Status.Exit;
    }

    /// <summary>A fault decided at decode time: vector in Aux2, detail in Aux.</summary>
    public static int Fault(CpuCore* c, Op* op)
    {
        c->SetException((byte)op->Aux2, 0, (FaultDetail)op->Aux);
        return Status.Exit;
    }

    /// <summary>RDTSC: derived from retired instructions, never from the host clock. Aux2 = index of this op in its block.</summary>
    public static int Rdtsc(CpuCore* c, Op* op)
    {
        ulong tsc = c->TscOffset + ((c->State.InstructionsRetired + (ulong)op->Aux2) * c->TscPerInstruction);
        Gpr(c, 0) = (uint)tsc;
        Gpr(c, 2) = tsc >> 32;
        return Status.Continue;
    }

    /// <summary>
    /// RDMSR: IA32_TIME_STAMP_COUNTER (0x10) is read natively, as RDTSC (the TDX module's MSR bitmap lets TSC reads
    /// through; only writes exit). Every other MSR is a TD exit the module turns into emulation, #GP(0) or #VE.
    /// Aux2 = index of this op in its block.
    /// </summary>
    public static int Rdmsr(CpuCore* c, Op* op)
    {
        if ((uint)Gpr(c, 1) == TscMsr)
        {
            return Rdtsc(c, op);
        }

        if (c->GuestSystem != 0
            && (SystemState.TryReadMsr(c, (uint)Gpr(c, 1), out ulong value) || VirtualApic.TryRead(c, (uint)Gpr(c, 1), out value)))
        {
            Gpr(c, 0) = (uint)value;
            Gpr(c, 2) = value >> 32;
            return Status.Continue;
        }

        c->SetVe(VeExitReason.MsrRead, 0);
        return Status.Exit;
    }

    /// <summary>WRMSR: the MSRs the CPU owns are written natively under GuestSystem; every other one is a TD exit.</summary>
    public static int Wrmsr(CpuCore* c, Op* op)
    {
        if (c->GuestSystem != 0)
        {
            ulong value = ((ulong)(uint)Gpr(c, 2) << 32) | (uint)Gpr(c, 0);
            int r = SystemState.TryWriteMsr(c, (uint)Gpr(c, 1), value);
            if (r >= 0)
            {
                return r;
            }

            r = VirtualApic.TryWrite(c, (uint)Gpr(c, 1), value);
            if (r >= 0)
            {
                return r;
            }
        }

        c->SetVe(VeExitReason.MsrWrite, 0);
        return Status.Exit;
    }

    /// <summary>CLC, STC, CLI, STI, CLD, STD: RFLAGS = (RFLAGS &amp; ~Imm) | Disp.</summary>
    public static int SetFlags(CpuCore* c, Op* op)
    {
        c->State.Rflags = (c->State.Rflags & ~op->Imm) | (ulong)op->Disp;
        return Status.Continue;
    }

    /// <summary>STI: sets IF; when IF was clear, interrupts stay blocked until after the next instruction (STI
    /// blocking), which the run loop honours by skipping one delivery check.</summary>
    public static int Sti(CpuCore* c, Op* op)
    {
        if ((c->State.Rflags & Rflags.If) == 0)
        {
            c->State.Rflags |= Rflags.If;
            if (c->IntrPending != 0)
            {
                // Leave the block so the run loop can deliver after exactly one more instruction.
                c->IntrShadow = 1;
                return Status.StopAfter;
            }
        }

        return Status.Continue;
    }

    public static int Cmc(CpuCore* c, Op* op)
    {
        c->State.Rflags ^= Flags.Cf;
        return Status.Continue;
    }

    /// <summary>LAHF: AH = SF:ZF:0:AF:0:PF:1:CF.</summary>
    public static int Lahf(CpuCore* c, Op* op)
    {
        SetReg(c, CpuCore.HighByteOffset(0), (byte)((c->State.Rflags & (Flags.Sf | Flags.Zf | Flags.Af | Flags.Pf | Flags.Cf)) | 2));
        return Status.Continue;
    }

    /// <summary>SAHF: SF, ZF, AF, PF, CF from AH.</summary>
    public static int Sahf(CpuCore* c, Op* op)
    {
        const ulong mask = Flags.Sf | Flags.Zf | Flags.Af | Flags.Pf | Flags.Cf;
        Flags.Set(c, mask, Reg<byte>(c, CpuCore.HighByteOffset(0)) & mask);
        return Status.Continue;
    }
}
