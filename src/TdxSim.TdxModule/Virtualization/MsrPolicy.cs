namespace TdxSim.TdxModule.Virtualization;

/// <summary>
/// How the TDX module treats a guest RDMSR/WRMSR, MSR by MSR.
/// <para>
/// Source: the TDX module's generated MSR lookup ([MOD] include/auto_gen/msr_config_lookup.c) and its exit handlers
/// (src/td_dispatcher/vm_exits/td_msr_access.c), module 1.5/2.0 era, for a TD with ATTRIBUTES.PERFMON = 0,
/// XFAM = x87 | SSE (no PT, CET, LBR, AMX, ULI), no TSX/WAITPKG/PKS, and TD_CTLS.REDUCE_VE clear (this module
/// does not support REDUCE_VE, so every "#GP or #VE depending on REDUCE_VE" MSR takes #VE):
/// </para>
/// <list type="bullet">
/// <item>MSRs outside the MSR-bitmap ranges <c>0–0x1FFF</c> and <c>0xC0000000–0xC0001FFF</c>: #VE.</item>
/// <item>MSRs in those ranges that the lookup does not list: #VE (the VMM emulates them; e.g. IA32_APIC_BASE,
/// IA32_FEATURE_CONTROL, IA32_BIOS_SIGN_ID, IA32_PLATFORM_INFO, IA32_CSTAR, MTRRs, machine-check MSRs).</item>
/// <item>Listed MSRs: the action of the row. "Native" rows are passed through by the MSR bitmap on hardware (no TD
/// exit); the module here keeps them per vCPU for a vCPU that forwards them.</item>
/// </list>
/// <para>
/// x2APIC (0x800–0x8FF): the reserved registers #GP as in the lookup. TPR, PPR, EOI, ISR, TMR, IRR and SELF_IPI are
/// virtualized by the CPU's APIC virtualization on hardware (no exit): TdxSim's CPU does that with
/// <c>CpuOptions.GuestSystem</c> (its virtual APIC); a CPU without it forwards them, and they take the #VE path with the
/// other x2APIC registers, which the VMM emulates (ICR IPIs, the timer) and delivers as posted interrupts. The x2APIC ID (0x802) read is
/// answered by the module when TD_CTLS.ENUM_TOPOLOGY is set, as td_rdmsr_exit does; otherwise #VE.
/// </para>
/// <para>
/// Deviation: the IA32_VMX_* capability MSRs (0x480–0x492) #GP here. The 2.0 module virtualizes their reads for an
/// L1 VMM inside the TD (TD partitioning), which TdxSim does not model, and VMX is not enumerated in CPUID.
/// </para>
/// </summary>
public static class MsrPolicy
{
    public const uint Tsc = 0x10;
    public const uint SpecCtrl = 0x48;
    public const uint PredCmd = 0x49;
    public const uint ArchCapabilities = 0x10A;
    public const uint FlushCmd = 0x10B;
    public const uint SysenterCs = 0x174;
    public const uint SysenterEsp = 0x175;
    public const uint SysenterEip = 0x176;
    public const uint MiscEnable = 0x1A0;
    public const uint DebugCtl = 0x1D9;
    public const uint Pat = 0x277;
    public const uint PerfCapabilities = 0x345;
    public const uint X2ApicId = 0x802;
    public const uint Xss = 0xDA0;
    public const uint Efer = 0xC000_0080;
    public const uint Star = 0xC000_0081;
    public const uint Lstar = 0xC000_0082;
    public const uint Fmask = 0xC000_0084;
    public const uint FsBase = 0xC000_0100;
    public const uint GsBase = 0xC000_0101;
    public const uint KernelGsBase = 0xC000_0102;
    public const uint TscAux = 0xC000_0103;

    private const MsrAction Ve = MsrAction.VirtualizationException;
    private const MsrAction Gp = MsrAction.GeneralProtection;
    private const MsrAction Native = MsrAction.Native;
    private const MsrAction Virt = MsrAction.Virtualized;

    // Sorted by First, non-overlapping (checked by the tests).
    private static readonly MsrRule[] Table =
    [
        new(Tsc, Tsc, "IA32_TIME_STAMP_COUNTER", MsrAction.CpuOwned, Ve),
        new(SpecCtrl, SpecCtrl, "IA32_SPEC_CTRL", Native, Native),
        new(PredCmd, PredCmd, "IA32_PRED_CMD", Gp, Native),
        new(0x87, 0x87, "IA32_MKTME_PARTITIONING", Ve, Ve),
        new(0x8C, 0x8F, "IA32_SGXLEPUBKEYHASHx", Gp, Gp),
        new(0x98, 0x9B, "MSR_WBINVDP..IA32_SMM_MONITOR_CTL", Gp, Gp),
        new(0x9E, 0x9E, "IA32_SMBASE", Gp, Gp),
        new(0xC1, 0xC8, "IA32_PMCx", Gp, Gp),
        new(0xE1, 0xE1, "IA32_UMWAIT_CONTROL", Gp, Gp),
        new(ArchCapabilities, ArchCapabilities, "IA32_ARCH_CAPABILITIES", Virt, Gp),
        new(FlushCmd, FlushCmd, "IA32_FLUSH_CMD", Gp, Native),
        new(0x122, 0x122, "IA32_TSX_CTRL", Gp, Gp),
        new(SysenterCs, SysenterEip, "IA32_SYSENTER_CS/ESP/EIP", Native, Native),
        new(0x186, 0x18D, "IA32_PERFEVTSELx", Gp, Gp),
        new(0x195, 0x195, "IA32_OVERCLOCKING_STATUS", Gp, Gp),
        new(MiscEnable, MiscEnable, "IA32_MISC_ENABLE", Virt, Ve),
        new(0x1A6, 0x1A7, "MSR_OFFCORE_RSPx", Gp, Gp),
        new(0x1C4, 0x1C5, "IA32_XFD/IA32_XFD_ERR", Gp, Gp),
        new(DebugCtl, DebugCtl, "IA32_DEBUGCTL", Virt, Virt),
        new(0x1F8, 0x1FA, "IA32_PLATFORM_DCA_CAP..IA32_DCA_0_CAP", Ve, Ve),
        new(0x276, 0x276, "MSR_SLAM_ENABLE", Gp, Gp),
        new(Pat, Pat, "IA32_PAT", Native, Native),
        new(0x309, 0x310, "IA32_FIXED_CTRx", Gp, Gp),
        new(0x329, 0x329, "IA32_PERF_METRICS", Gp, Gp),
        new(PerfCapabilities, PerfCapabilities, "IA32_PERF_CAPABILITIES", Virt, Gp),
        new(0x38D, 0x392, "IA32_FIXED_CTR_CTRL..IA32_PERF_GLOBAL_INUSE", Gp, Gp),
        new(0x3F1, 0x3F2, "IA32_PEBS_ENABLE/MSR_PEBS_MATRIX_VECT", Gp, Gp),
        new(0x3F6, 0x3F7, "MSR_PEBS_LD_LATENCY/MSR_PEBS_FRONTEND", Gp, Gp),
        new(0x480, 0x492, "IA32_VMX_BASIC..IA32_VMX_PROCBASED_CTLS3", Gp, Gp),
        new(0x4C1, 0x4C8, "IA32_A_PMCx", Gp, Gp),
        new(0x500, 0x500, "IA32_SGX_SVN_STATUS", Gp, Gp),
        new(0x560, 0x561, "IA32_RTIT_OUTPUT_BASE/MASK_PTRS", Gp, Gp),
        new(0x570, 0x572, "IA32_RTIT_CTL..IA32_RTIT_CR3_MATCH", Gp, Gp),
        new(0x580, 0x587, "IA32_RTIT_ADDRn_A/B", Gp, Gp),
        new(0x6A0, 0x6A0, "IA32_U_CET", Gp, Gp),
        new(0x6A2, 0x6A2, "IA32_S_CET", Gp, Gp),
        new(0x6A4, 0x6A8, "IA32_PLn_SSP/IA32_INTERRUPT_SSP_TABLE_ADDR", Gp, Gp),
        new(0x6E0, 0x6E0, "IA32_TSC_DEADLINE", Ve, Ve),
        new(0x6E1, 0x6E1, "IA32_PKRS", Gp, Gp),
        new(0x800, 0x801, "x2APIC reserved", Gp, Gp),
        new(X2ApicId, X2ApicId, "IA32_X2APIC_APICID", Virt, Ve),
        new(0x804, 0x807, "x2APIC reserved", Gp, Gp),
        new(0x829, 0x82E, "x2APIC reserved", Gp, Gp),
        new(0x831, 0x831, "x2APIC reserved", Gp, Gp),
        new(0x840, 0x8FF, "x2APIC reserved", Gp, Gp),
        new(0x981, 0x984, "IA32_TME_CAPABILITY..IA32_TME_EXCLUDE_BASE", Ve, Ve),
        new(0x985, 0x98A, "IA32_UINTR_*", Gp, Gp),
        new(0xD90, 0xD90, "IA32_BNDCFGS", Gp, Gp),
        new(0xD93, 0xD93, "IA32_PASID", Gp, Gp),
        new(Xss, Xss, "IA32_XSS", Native, Virt),
        new(0x1200, 0x12FF, "IA32_LBR_x_INFO", Gp, Gp),
        new(0x14CE, 0x14CF, "IA32_LBR_CTL/IA32_LBR_DEPTH", Gp, Gp),
        new(0x1500, 0x16FF, "IA32_LBR_x_FROM_IP/TO_IP", Gp, Gp),
        new(Efer, Efer, "IA32_EFER", Native, Virt),
        new(Star, Lstar, "IA32_STAR/IA32_LSTAR", Native, Native),
        new(Fmask, Fmask, "IA32_FMASK", Native, Native),
        new(FsBase, KernelGsBase, "IA32_FS_BASE/GS_BASE/KERNEL_GS_BASE", Native, Native),
        new(TscAux, TscAux, "IA32_TSC_AUX", Native, Native),
    ];

    /// <summary>Every listed row, sorted by MSR.</summary>
    public static ReadOnlySpan<MsrRule> Rules => Table;

    /// <summary>The rule for <paramref name="msr"/>; unlisted MSRs get a #VE/#VE rule.</summary>
    public static MsrRule Lookup(uint msr)
    {
        int lo = 0;
        int hi = Table.Length - 1;
        while (lo <= hi)
        {
            int mid = (lo + hi) >>> 1;
            MsrRule rule = Table[mid];
            if (msr < rule.First)
            {
                hi = mid - 1;
            }
            else if (msr > rule.Last)
            {
                lo = mid + 1;
            }
            else
            {
                return rule;
            }
        }

        bool inBitmap = msr <= 0x1FFF || (msr >= 0xC000_0000 && msr <= 0xC000_1FFF);
        return new MsrRule(msr, msr, inBitmap ? "unlisted (VMM-emulated)" : "outside the MSR bitmap", Ve, Ve);
    }
}
