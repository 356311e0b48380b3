using static TdxSim.Cpu.Exec.Operands;

namespace TdxSim.Cpu.Exec;

/// <summary>
/// System state a kernel sets up (<see cref="CpuOptions.GuestSystem"/>): the MSRs the CPU owns, SWAPGS, the task and
/// LDT registers, XCR0, the x87/SSE control state and its save areas (FXSAVE, XSAVE in the standard format with
/// x87 and SSE as the only components: CPUID.(0xD,1).EAX enumerates no XSAVEOPT/XSAVEC/XSAVES), and SSE moves.
/// The x87 data registers are not modelled (they read as zero): a kernel does not compute in x87.
/// </summary>
internal static unsafe class SystemState
{
    public const uint EferMsr = 0xC000_0080;
    public const uint StarMsr = 0xC000_0081;
    public const uint LstarMsr = 0xC000_0082;
    public const uint CstarMsr = 0xC000_0083;
    public const uint FmaskMsr = 0xC000_0084;
    public const uint FsBaseMsr = 0xC000_0100;
    public const uint GsBaseMsr = 0xC000_0101;
    public const uint KernelGsBaseMsr = 0xC000_0102;
    public const uint TscAuxMsr = 0xC000_0103;
    public const uint PatMsr = 0x277;

    /// <summary>XCR0 bits TdxSim supports: x87 and SSE.</summary>
    public const ulong SupportedXcr0 = 0x3;

    /// <summary>The MSRs the CPU answers itself (no TD exit on TDX hardware: reference 3.1's MSR bitmap).</summary>
    public static bool TryReadMsr(CpuCore* c, uint msr, out ulong value)
    {
        ref CpuState s = ref c->State;
        switch (msr)
        {
            case EferMsr: value = s.Efer; return true;
            case StarMsr: value = s.Star; return true;
            case LstarMsr: value = s.Lstar; return true;
            case CstarMsr: value = s.Cstar; return true;
            case FmaskMsr: value = s.Fmask; return true;
            case FsBaseMsr: value = s.FsBase; return true;
            case GsBaseMsr: value = s.GsBase; return true;
            case KernelGsBaseMsr: value = s.KernelGsBase; return true;
            case TscAuxMsr: value = s.TscAux; return true;
            case PatMsr: value = s.Pat; return true;
            default: value = 0; return false;
        }
    }

    /// <summary>Status of a native write, or -1 when the MSR is not the CPU's (a TD exit).</summary>
    public static int TryWriteMsr(CpuCore* c, uint msr, ulong value)
    {
        ref CpuState s = ref c->State;
        bool addressMsr = msr is FsBaseMsr or GsBaseMsr or KernelGsBaseMsr or LstarMsr or CstarMsr;
        if (addressMsr && !Paging.IsCanonical(value))
        {
            c->SetException(CpuExit.GeneralProtection, 0, FaultDetail.None);
            return Status.Exit;
        }

        switch (msr)
        {
            case EferMsr:
                // SCE (0) and NXE (11) are the guest's; LME/LMA stay set (a TD runs in long mode).
                const ulong writable = 1UL | (1UL << 11);
                if ((value & ~(writable | 0x500)) != 0)
                {
                    c->SetException(CpuExit.GeneralProtection, 0, FaultDetail.None);
                    return Status.Exit;
                }

                s.Efer = (s.Efer & ~writable) | (value & writable);
                SystemOps.SyncTranslation(c);
                return Status.Continue;
            case StarMsr: s.Star = value; return Status.Continue;
            case LstarMsr: s.Lstar = value; return Status.Continue;
            case CstarMsr: s.Cstar = value; return Status.Continue;
            case FmaskMsr: s.Fmask = value & 0xFFFF_FFFF; return Status.Continue;
            case FsBaseMsr: s.FsBase = value; return Status.Continue;
            case GsBaseMsr: s.GsBase = value; return Status.Continue;
            case KernelGsBaseMsr: s.KernelGsBase = value; return Status.Continue;
            case TscAuxMsr: s.TscAux = value & 0xFFFF_FFFF; return Status.Continue;
            case PatMsr: s.Pat = value; return Status.Continue;
            default: return -1;
        }
    }

    public static int Swapgs(CpuCore* c, Op* op)
    {
        (c->State.GsBase, c->State.KernelGsBase) = (c->State.KernelGsBase, c->State.GsBase);
        return Status.Continue;
    }

    /// <summary>LTR (Aux 0) or LLDT (Aux 1) from a register (Aux3 0, Src) or memory: reads the 16-byte system descriptor
    /// from the GDT; LTR needs an available 64-bit TSS (type 9) and marks it busy.</summary>
    public static int LoadTaskOrLdt(CpuCore* c, Op* op)
    {
        ushort selector;
        if (op->Aux3 == 1)
        {
            if (!MemoryAccess.TryRead(c, Ea(c, op), out selector))
            {
                return Status.Exit;
            }
        }
        else
        {
            selector = Reg<ushort>(c, op->Src);
        }

        bool ltr = op->Aux == 0;
        uint offset = (uint)selector & ~7u;
        if ((selector & ~3) == 0)
        {
            if (ltr)
            {
                c->SetException(CpuExit.GeneralProtection, 0, FaultDetail.BadSegmentSelector);
                return Status.Exit;
            }

            c->State.Ldtr = 0;
            return Status.Continue;
        }

        if ((selector & 4) != 0 || offset + 15 > c->State.GdtrLimit)
        {
            c->SetException(CpuExit.GeneralProtection, (uint)selector & 0xFFFC, FaultDetail.BadSegmentSelector);
            return Status.Exit;
        }

        ulong la = c->State.GdtrBase + offset;
        if (!MemoryAccess.TryRead(c, la, out ulong lo) || !MemoryAccess.TryRead(c, la + 8, out ulong hi))
        {
            return Status.Exit;
        }

        uint type = (uint)(lo >> 40) & 0x1F;
        if ((ltr && type != 0x09) || (!ltr && type != 0x02) || (lo & (1UL << 47)) == 0)
        {
            c->SetException(CpuExit.GeneralProtection, (uint)selector & 0xFFFC, FaultDetail.BadSegmentSelector);
            return Status.Exit;
        }

        if (!ltr)
        {
            c->State.Ldtr = selector;
            return Status.Continue;
        }

        int status = MemoryAccess.Store(c, la, lo | (1UL << 41));
        if (status == Status.Exit)
        {
            return status;
        }

        uint limit = (uint)(lo & 0xFFFF) | (uint)((lo >> 32) & 0xF_0000);
        if ((lo & (1UL << 55)) != 0)
        {
            limit = (limit << 12) | 0xFFF;
        }

        c->State.Tr = selector;
        c->State.TrLimit = limit;
        c->State.TrBase = ((lo >> 16) & 0xFF_FFFF) | (((lo >> 56) & 0xFF) << 24) | ((hi & 0xFFFF_FFFF) << 32);
        return status;
    }

    /// <summary>STR (Aux 0) or SLDT (Aux 1) to a register (zero-extended to Imm bytes) or 16 bits of memory.</summary>
    public static int StoreTaskOrLdt(CpuCore* c, Op* op) =>
        PrivilegedOps.StoreSelector(c, op, op->Aux == 0 ? c->State.Tr : c->State.Ldtr);

    public static int Xgetbv(CpuCore* c, Op* op)
    {
        uint index = (uint)Gpr(c, 1);
        if ((c->State.Cr4 & (1UL << 18)) == 0 || index > 1)
        {
            c->SetException(index > 1 ? CpuExit.GeneralProtection : CpuExit.InvalidOpcode, 0, FaultDetail.None);
            return Status.Exit;
        }

        // XCR1 (XINUSE): report every enabled component in use.
        ulong v = c->State.Xcr0;
        Gpr(c, 0) = (uint)v;
        Gpr(c, 2) = v >> 32;
        return Status.Continue;
    }

    public static int Xsetbv(CpuCore* c, Op* op)
    {
        ulong v = ((ulong)(uint)Gpr(c, 2) << 32) | (uint)Gpr(c, 0);
        if ((c->State.Cr4 & (1UL << 18)) == 0)
        {
            c->SetException(CpuExit.InvalidOpcode, 0, FaultDetail.None);
            return Status.Exit;
        }

        if ((uint)Gpr(c, 1) != 0 || (v & 1) == 0 || (v & ~SupportedXcr0) != 0)
        {
            c->SetException(CpuExit.GeneralProtection, 0, FaultDetail.None);
            return Status.Exit;
        }

        c->State.Xcr0 = v;
        return Status.Continue;
    }

    public static int Fninit(CpuCore* c, Op* op)
    {
        c->State.Fcw = CpuState.InitialFcw;
        c->State.Fsw = 0;
        return Status.Continue;
    }

    /// <summary>FNSTCW (Aux 0) / FNSTSW (Aux 1) m16.</summary>
    public static int StoreX87Word(CpuCore* c, Op* op) =>
        MemoryAccess.Store(c, Ea(c, op), op->Aux == 0 ? c->State.Fcw : c->State.Fsw);

    public static int FnstswAx(CpuCore* c, Op* op)
    {
        SetReg(c, op->Dst, c->State.Fsw);
        return Status.Continue;
    }

    public static int Fldcw(CpuCore* c, Op* op)
    {
        if (!MemoryAccess.TryRead(c, Ea(c, op), out ushort v))
        {
            return Status.Exit;
        }

        c->State.Fcw = v;
        return Status.Continue;
    }

    public static int Ldmxcsr(CpuCore* c, Op* op)
    {
        if (!MemoryAccess.TryRead(c, Ea(c, op), out uint v))
        {
            return Status.Exit;
        }

        if ((v & ~0xFFFFu) != 0)
        {
            c->SetException(CpuExit.GeneralProtection, 0, FaultDetail.None);
            return Status.Exit;
        }

        c->State.Mxcsr = v;
        return Status.Continue;
    }

    public static int Stmxcsr(CpuCore* c, Op* op) => MemoryAccess.Store(c, Ea(c, op), c->State.Mxcsr);

    private static bool Aligned(CpuCore* c, ulong ea, ulong alignment)
    {
        if ((ea & (alignment - 1)) == 0)
        {
            return true;
        }

        c->SetException(CpuExit.GeneralProtection, 0, FaultDetail.None);
        return false;
    }

    /// <summary>The legacy region (512 bytes) for the components in <paramref name="mask"/> (bit 0 x87, bit 1 SSE).</summary>
    private static int SaveLegacy(CpuCore* c, ulong ea, ulong mask)
    {
        int status = Status.Continue;
        if ((mask & 1) != 0)
        {
            byte* p = MemoryAccess.Write(c, ea, 24, ref status);
            if (p == null)
            {
                return Status.Exit;
            }

            new Span<byte>(p, 24).Clear();
            *(ushort*)p = c->State.Fcw;
            *(ushort*)(p + 2) = c->State.Fsw;
            for (ulong k = 32; k < 160; k += 16)
            {
                if (MemoryAccess.Store(c, ea + k, 0UL) == Status.Exit || MemoryAccess.Store(c, ea + k + 8, 0UL) == Status.Exit)
                {
                    return Status.Exit;
                }
            }
        }

        if ((mask & 3) != 0)
        {
            // MXCSR and MXCSR_MASK are saved with either component (SDM Vol. 1 13.7).
            if (MemoryAccess.Store(c, ea + 24, c->State.Mxcsr) == Status.Exit || MemoryAccess.Store(c, ea + 28, 0xFFFFu) == Status.Exit)
            {
                return Status.Exit;
            }
        }

        if ((mask & 2) != 0)
        {
            for (int r = 0; r < 16; r++)
            {
                ulong a = ea + 160 + ((ulong)r * 16);
                if (MemoryAccess.Store(c, a, c->Xmm[r * 2]) == Status.Exit || MemoryAccess.Store(c, a + 8, c->Xmm[(r * 2) + 1]) == Status.Exit)
                {
                    return Status.Exit;
                }
            }
        }

        return Status.StopAfter == status ? status : Status.Continue;
    }

    private static int RestoreLegacy(CpuCore* c, ulong ea, ulong mask, ulong present)
    {
        if ((mask & 1) != 0)
        {
            if ((present & 1) != 0)
            {
                if (!MemoryAccess.TryRead(c, ea, out ushort fcw) || !MemoryAccess.TryRead(c, ea + 2, out ushort fsw))
                {
                    return Status.Exit;
                }

                c->State.Fcw = fcw;
                c->State.Fsw = fsw;
            }
            else
            {
                c->State.Fcw = CpuState.InitialFcw;
                c->State.Fsw = 0;
            }
        }

        if ((mask & 3) != 0 && ((present & 3) != 0 || (mask & 2) != 0))
        {
            if (!MemoryAccess.TryRead(c, ea + 24, out uint mxcsr))
            {
                return Status.Exit;
            }

            if ((mxcsr & ~0xFFFFu) != 0)
            {
                c->SetException(CpuExit.GeneralProtection, 0, FaultDetail.None);
                return Status.Exit;
            }

            c->State.Mxcsr = mxcsr;
        }

        if ((mask & 2) != 0)
        {
            for (int r = 0; r < 16; r++)
            {
                ulong lo = 0, hi = 0;
                if ((present & 2) != 0)
                {
                    ulong a = ea + 160 + ((ulong)r * 16);
                    if (!MemoryAccess.TryRead(c, a, out lo) || !MemoryAccess.TryRead(c, a + 8, out hi))
                    {
                        return Status.Exit;
                    }
                }

                c->Xmm[r * 2] = lo;
                c->Xmm[(r * 2) + 1] = hi;
            }
        }

        return Status.Continue;
    }

    public static int Fxsave(CpuCore* c, Op* op)
    {
        ulong ea = Ea(c, op);
        return Aligned(c, ea, 16) ? SaveLegacy(c, ea, 3) : Status.Exit;
    }

    public static int Fxrstor(CpuCore* c, Op* op)
    {
        ulong ea = Ea(c, op);
        return Aligned(c, ea, 16) ? RestoreLegacy(c, ea, 3, 3) : Status.Exit;
    }

    private static ulong RequestedMask(CpuCore* c) => ((((ulong)(uint)Gpr(c, 2)) << 32) | (uint)Gpr(c, 0)) & c->State.Xcr0;

    /// <summary>XSAVE (standard format): the legacy region, then XSTATE_BV in the header.</summary>
    public static int Xsave(CpuCore* c, Op* op)
    {
        ulong ea = Ea(c, op);
        if ((c->State.Cr4 & (1UL << 18)) == 0)
        {
            c->SetException(CpuExit.InvalidOpcode, 0, FaultDetail.None);
            return Status.Exit;
        }

        if (!Aligned(c, ea, 64))
        {
            return Status.Exit;
        }

        ulong rfbm = RequestedMask(c);
        int s = SaveLegacy(c, ea, rfbm);
        if (s == Status.Exit || !MemoryAccess.TryRead(c, ea + 512, out ulong bv))
        {
            return Status.Exit;
        }

        return MemoryAccess.Store(c, ea + 512, (bv & ~rfbm) | rfbm);
    }

    /// <summary>XRSTOR (standard format; a compacted header is #GP: XSAVEC is not enumerated).</summary>
    public static int Xrstor(CpuCore* c, Op* op)
    {
        ulong ea = Ea(c, op);
        if ((c->State.Cr4 & (1UL << 18)) == 0)
        {
            c->SetException(CpuExit.InvalidOpcode, 0, FaultDetail.None);
            return Status.Exit;
        }

        if (!Aligned(c, ea, 64) || !MemoryAccess.TryRead(c, ea + 512, out ulong bv) || !MemoryAccess.TryRead(c, ea + 520, out ulong comp))
        {
            return Status.Exit;
        }

        if ((comp & (1UL << 63)) != 0 || (bv & ~c->State.Xcr0) != 0)
        {
            c->SetException(CpuExit.GeneralProtection, 0, FaultDetail.None);
            return Status.Exit;
        }

        return RestoreLegacy(c, ea, RequestedMask(c), bv);
    }

    /// <summary>RDTSCP: RDTSC plus ECX = IA32_TSC_AUX. Aux2 = index in the block.</summary>
    public static int Rdtscp(CpuCore* c, Op* op)
    {
        SystemOps.Rdtsc(c, op);
        Gpr(c, 1) = (uint)c->State.TscAux;
        return Status.Continue;
    }

    public static int Rdpid(CpuCore* c, Op* op)
    {
        SetReg(c, op->Dst, c->State.TscAux);
        return Status.Continue;
    }

    /// <summary>RDRAND/RDSEED r (Imm bytes): a value from a per-vCPU xorshift (reproducible), CF = 1, other flags 0.</summary>
    public static int Rdrand(CpuCore* c, Op* op)
    {
        ulong x = c->RandomState;
        if (x == 0)
        {
            x = 0x9E37_79B9_7F4A_7C15;
        }

        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        c->RandomState = x;
        switch (op->Imm)
        {
            case 2: SetReg(c, op->Dst, (ushort)x); break;
            case 4: SetReg(c, op->Dst, (uint)x); break;
            default: SetReg(c, op->Dst, x); break;
        }

        c->State.Rflags = (c->State.Rflags & ~Flags.Status) | Flags.Cf;
        return Status.Continue;
    }

    /// <summary>INT3 / INT n: a trap through the IDT with RIP past the instruction (vector in Aux2).</summary>
    public static int SoftwareInterrupt(CpuCore* c, Op* op)
    {
        if (c->GuestIdt == 0 || c->State.IdtrLimit == 0)
        {
            c->SetException((byte)op->Aux2, 0, FaultDetail.None);
            return Status.Exit;
        }

        c->State.Rip = op->NextRip;
        if (!Interrupts.Deliver(c, (byte)op->Aux2, 0))
        {
            c->State.Rip = op->Rip;
            return Status.Exit;
        }

        // Retired; the run loop continues at the handler (RIP was set by delivery).
        return Status.Continue;
    }

    public static int XorXmm(CpuCore* c, Op* op)
    {
        c->Xmm[op->Dst * 2] ^= c->Xmm[op->Src * 2];
        c->Xmm[(op->Dst * 2) + 1] ^= c->Xmm[(op->Src * 2) + 1];
        return Status.Continue;
    }

    public static int MovXmmXmm(CpuCore* c, Op* op)
    {
        c->Xmm[op->Dst * 2] = op->Imm == 4 ? (uint)c->Xmm[op->Src * 2] : c->Xmm[op->Src * 2];
        c->Xmm[(op->Dst * 2) + 1] = op->Imm == 16 ? c->Xmm[(op->Src * 2) + 1] : 0;
        return Status.Continue;
    }

    public static int LoadXmm(CpuCore* c, Op* op)
    {
        ulong ea = Ea(c, op);
        if (op->Aux == 1 && !Aligned(c, ea, 16))
        {
            return Status.Exit;
        }

        ulong lo, hi = 0;
        switch (op->Imm)
        {
            case 4:
                if (!MemoryAccess.TryRead(c, ea, out uint d))
                {
                    return Status.Exit;
                }

                lo = d;
                break;
            case 8:
                if (!MemoryAccess.TryRead(c, ea, out lo))
                {
                    return Status.Exit;
                }

                break;
            default:
                if (!MemoryAccess.TryRead(c, ea, out lo) || !MemoryAccess.TryRead(c, ea + 8, out hi))
                {
                    return Status.Exit;
                }

                break;
        }

        c->Xmm[op->Dst * 2] = lo;
        c->Xmm[(op->Dst * 2) + 1] = hi;
        return Status.Continue;
    }

    public static int StoreXmm(CpuCore* c, Op* op)
    {
        ulong ea = Ea(c, op);
        if (op->Aux == 1 && !Aligned(c, ea, 16))
        {
            return Status.Exit;
        }

        ulong lo = c->Xmm[op->Src * 2];
        switch (op->Imm)
        {
            case 4: return MemoryAccess.Store(c, ea, (uint)lo);
            case 8: return MemoryAccess.Store(c, ea, lo);
            default:
                int status = Status.Continue;
                byte* p = MemoryAccess.Write(c, ea, 16, ref status);
                if (p == null)
                {
                    return Status.Exit;
                }

                *(ulong*)p = lo;
                *(ulong*)(p + 8) = c->Xmm[(op->Src * 2) + 1];
                return status;
        }
    }

    public static int MovXmmFromGpr(CpuCore* c, Op* op)
    {
        ulong v = Reg<ulong>(c, op->Src);
        c->Xmm[op->Dst * 2] = op->Imm == 4 ? (uint)v : v;
        c->Xmm[(op->Dst * 2) + 1] = 0;
        return Status.Continue;
    }

    public static int MovGprFromXmm(CpuCore* c, Op* op)
    {
        ulong v = c->Xmm[op->Src * 2];
        if (op->Imm == 4)
        {
            SetReg(c, op->Dst, (uint)v);
        }
        else
        {
            SetReg(c, op->Dst, v);
        }

        return Status.Continue;
    }
}
