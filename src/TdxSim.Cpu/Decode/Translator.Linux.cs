using Iced.Intel;
using TdxSim.Abi;
using TdxSim.Cpu.Exec;

namespace TdxSim.Cpu.Decode;

/// <summary>What a kernel's early boot and FPU initialisation execute (<see cref="SystemState"/>): IRETQ, SWAPGS, LTR/STR,
/// LLDT/SLDT, XGETBV/XSETBV, the x87 control instructions, FXSAVE/FXRSTOR, XSAVE/XRSTOR, LDMXCSR/STMXCSR, RDTSCP,
/// RDRAND/RDSEED, cache-line flushes, WBINVD/INVD (#VE in a TD), STAC/CLAC, INT3, MONITOR/MWAIT (#VE) and the SSE
/// moves and XORs of whole registers.</summary>
internal static unsafe partial class Translator
{
    private static bool SystemInstruction(in Instruction i, ref Op op, ref Translation t, int index)
    {
        switch (i.Mnemonic)
        {
            case Mnemonic.Iretq:
            case Mnemonic.Iretd:
                op.Aux = i.Mnemonic == Mnemonic.Iretq ? (byte)8 : (byte)4;
                t.Precise = &Interrupts.Iret;
                t.Barrier = t.Ends = true;
                t.Writes = t.Kill = AllStatus;
                return true;
            case Mnemonic.Swapgs: return Plain(ref t, &SystemState.Swapgs);
            case Mnemonic.Ltr:
            case Mnemonic.Lldt:
                op.Aux = i.Mnemonic == Mnemonic.Ltr ? (byte)0 : (byte)1;
                return RegOrMem(in i, ref op, ref t, &SystemState.LoadTaskOrLdt, source: true);
            case Mnemonic.Str:
            case Mnemonic.Sldt:
                op.Aux = i.Mnemonic == Mnemonic.Str ? (byte)0 : (byte)1;
                return RegOrMem(in i, ref op, ref t, &SystemState.StoreTaskOrLdt, source: false);
            case Mnemonic.Xgetbv: return Stack(ref t, &SystemState.Xgetbv);
            case Mnemonic.Xsetbv: return Stack(ref t, &SystemState.Xsetbv);
            case Mnemonic.Fninit: return Plain(ref t, &SystemState.Fninit);
            case Mnemonic.Wait: return Plain(ref t, &SystemOps.Nop);
            case Mnemonic.Fnstcw: op.Aux = 0; return MemoryOnly(in i, ref op, ref t, &SystemState.StoreX87Word);
            case Mnemonic.Fnstsw:
                if (i.Op0Kind == OpKind.Register)
                {
                    op.Dst = RegOff(i.Op0Register);
                    return Plain(ref t, &SystemState.FnstswAx);
                }

                op.Aux = 1;
                return MemoryOnly(in i, ref op, ref t, &SystemState.StoreX87Word);
            case Mnemonic.Fldcw: return MemoryOnly(in i, ref op, ref t, &SystemState.Fldcw);
            case Mnemonic.Fxsave:
            case Mnemonic.Fxsave64: return MemoryOnly(in i, ref op, ref t, &SystemState.Fxsave);
            case Mnemonic.Fxrstor:
            case Mnemonic.Fxrstor64: return MemoryOnly(in i, ref op, ref t, &SystemState.Fxrstor);
            case Mnemonic.Ldmxcsr: return MemoryOnly(in i, ref op, ref t, &SystemState.Ldmxcsr);
            case Mnemonic.Stmxcsr: return MemoryOnly(in i, ref op, ref t, &SystemState.Stmxcsr);
            case Mnemonic.Xsave:
            case Mnemonic.Xsave64: return MemoryOnly(in i, ref op, ref t, &SystemState.Xsave);
            case Mnemonic.Xrstor:
            case Mnemonic.Xrstor64: return MemoryOnly(in i, ref op, ref t, &SystemState.Xrstor);
            case Mnemonic.Rdtscp:
                op.Aux2 = index;
                return Plain(ref t, &SystemState.Rdtscp);
            case Mnemonic.Rdpid:
                op.Dst = RegOff(i.Op0Register);
                return Plain(ref t, &SystemState.Rdpid);
            case Mnemonic.Rdrand:
            case Mnemonic.Rdseed:
                if (i.Op0Kind != OpKind.Register)
                {
                    return false;
                }

                op.Dst = RegOff(i.Op0Register);
                op.Imm = (ulong)i.Op0Register.GetSize();
                return Plain(ref t, &SystemState.Rdrand);
            case Mnemonic.Clflush:
            case Mnemonic.Clflushopt:
            case Mnemonic.Clwb:
                return Plain(ref t, &SystemOps.Nop);
            case Mnemonic.Wbinvd: return VeExit(ref op, ref t, VeExitReason.Wbinvd);
            case Mnemonic.Invd: return VeExit(ref op, ref t, VeExitReason.Invd);
            case Mnemonic.Monitor: return VeExit(ref op, ref t, VeExitReason.MonitorInstruction);
            case Mnemonic.Mwait: return VeExit(ref op, ref t, VeExitReason.MwaitInstruction);
            case Mnemonic.Stac: return SetFlags(ref op, ref t, Rflags.Ac, Rflags.Ac);
            case Mnemonic.Clac: return SetFlags(ref op, ref t, Rflags.Ac, 0);
            case Mnemonic.Int3:
                // A trap: the frame's RIP is the next instruction.
                op.Aux2 = 3;
                t.Precise = &SystemState.SoftwareInterrupt;
                t.Barrier = t.Ends = true;
                return true;
            default:
                return Sse(in i, ref op, ref t);
        }
    }

    private static bool RegOrMem(in Instruction i, ref Op op, ref Translation t, delegate*<CpuCore*, Op*, int> handler, bool source)
    {
        if (i.Op0Kind == OpKind.Register)
        {
            if (source)
            {
                op.Src = RegOff(i.Op0Register);
            }
            else
            {
                op.Dst = RegOff(i.Op0Register);
                op.Imm = (ulong)i.Op0Register.GetSize();
            }

            op.Aux3 = 0;
        }
        else if (i.Op0Kind == OpKind.Memory && Memory(in i, ref op))
        {
            op.Aux3 = 1;
        }
        else
        {
            return false;
        }

        t.Precise = handler;
        t.Barrier = true;
        return true;
    }

    private static bool IsXmm(Register r) => r >= Register.XMM0 && r <= Register.XMM15;

    /// <summary>MOVAPS/MOVUPS/MOVDQA/MOVDQU (and the PD forms), MOVD/MOVQ between XMM, GPR and memory, and
    /// PXOR/XORPS/XORPD of XMM registers. Dst/Src: XMM index or GPR offset; Aux: form; Imm: width in bytes.</summary>
    private static bool Sse(in Instruction i, ref Op op, ref Translation t)
    {
        if (i.Mnemonic is Mnemonic.Pxor or Mnemonic.Xorps or Mnemonic.Xorpd)
        {
            if (!IsXmm(i.Op0Register) || i.Op1Kind != OpKind.Register || !IsXmm(i.Op1Register) || i.OpCount != 2)
            {
                return false;
            }

            op.Dst = (byte)(i.Op0Register - Register.XMM0);
            op.Src = (byte)(i.Op1Register - Register.XMM0);
            return Plain(ref t, &SystemState.XorXmm);
        }

        if (i.OpCount != 2)
        {
            return false;
        }

        int width = i.Mnemonic switch { Mnemonic.Movd => 4, Mnemonic.Movq => 8, _ => 16 };
        op.Imm = (ulong)width;
        bool dstXmm = i.Op0Kind == OpKind.Register && IsXmm(i.Op0Register);
        bool srcXmm = i.Op1Kind == OpKind.Register && IsXmm(i.Op1Register);
        if (dstXmm && srcXmm)
        {
            op.Dst = (byte)(i.Op0Register - Register.XMM0);
            op.Src = (byte)(i.Op1Register - Register.XMM0);
            return Plain(ref t, &SystemState.MovXmmXmm);
        }

        if (dstXmm && i.Op1Kind == OpKind.Memory && Memory(in i, ref op))
        {
            op.Dst = (byte)(i.Op0Register - Register.XMM0);
            op.Aux = (byte)((i.Mnemonic is Mnemonic.Movaps or Mnemonic.Movdqa or Mnemonic.Movapd) ? 1 : 0);
            return Stack(ref t, &SystemState.LoadXmm);
        }

        if (srcXmm && i.Op0Kind == OpKind.Memory && Memory(in i, ref op))
        {
            op.Src = (byte)(i.Op1Register - Register.XMM0);
            op.Aux = (byte)((i.Mnemonic is Mnemonic.Movaps or Mnemonic.Movdqa or Mnemonic.Movapd) ? 1 : 0);
            return Stack(ref t, &SystemState.StoreXmm);
        }

        if (dstXmm && i.Op1Kind == OpKind.Register && IsGpr(i.Op1Register) && width <= 8)
        {
            op.Dst = (byte)(i.Op0Register - Register.XMM0);
            op.Src = RegOff(i.Op1Register);
            return Plain(ref t, &SystemState.MovXmmFromGpr);
        }

        if (srcXmm && i.Op0Kind == OpKind.Register && IsGpr(i.Op0Register) && width <= 8)
        {
            op.Src = (byte)(i.Op1Register - Register.XMM0);
            op.Dst = RegOff(i.Op0Register);
            return Plain(ref t, &SystemState.MovGprFromXmm);
        }

        return false;
    }
}
