using TdxSim.Abi;
using TdxSim.TdxModule.Virtualization;

namespace TdxSim.TdxModule;

// The MSRs the module answers itself ([MOD] td_msr_access.c) and the native ones it keeps per vCPU.
// Both methods return Native when the access completed, or the exception to inject.
public sealed partial class TdxModuleCore
{
    /// <summary>
    /// IA32_ARCH_CAPABILITIES as TdxSim's TD sees it: RDCL_NO, IBRS_ALL, SKIP_L1DFL_VMENTRY, MDS_NO, PSCHANGE_MC_NO,
    /// TAA_NO, and RRSBA (which the module always reports): a plausible Sapphire Rapids value.
    /// </summary>
    public const ulong ArchCapabilitiesValue = (1UL << 0) | (1UL << 1) | (1UL << 3) | (1UL << 5) | (1UL << 6) | (1UL << 8) | (1UL << 19);

    private const ulong DebugCtlReserved = 0xFFFF_FFFF_FFFF_0000 | 0x3C; // bits 63:16 and 5:2
    private const ulong DebugCtlTr = 1UL << 6;
    private const ulong DebugCtlBts = 1UL << 7;
    private const ulong DebugCtlUncorePmi = 1UL << 13;
    private const ulong DebugCtlFreezeWhileSmm = 1UL << 14;
    private const ulong DebugCtlRtm = 1UL << 15;
    private const ulong EferSce = 1UL << 0;
    private const ulong EferLma = 1UL << 10;

    private MsrAction ReadMsr(VcpuContext ctx, uint msr, out ulong value)
    {
        VcpuMsrFile m = ctx.Msrs;
        value = 0;
        switch (msr)
        {
            case MsrPolicy.SpecCtrl: value = m.SpecCtrl; break;
            case MsrPolicy.SysenterCs: value = m.SysenterCs; break;
            case MsrPolicy.SysenterEsp: value = m.SysenterEsp; break;
            case MsrPolicy.SysenterEip: value = m.SysenterEip; break;
            case MsrPolicy.Pat: value = m.Pat; break;
            case MsrPolicy.MiscEnable: value = m.MiscEnable; break;
            case MsrPolicy.ArchCapabilities: value = ArchCapabilitiesValue; break;

            // Without ATTRIBUTES.PERFMON the module returns 0.
            case MsrPolicy.PerfCapabilities: value = 0; break;

            // Bit 13 (uncore PMI) is virtualized as 0.
            case MsrPolicy.DebugCtl: value = m.DebugCtl & ~DebugCtlUncorePmi; break;
            case MsrPolicy.X2ApicId:
                if ((TdCtlsValue & TdCtls.EnumTopology) == 0)
                {
                    return MsrAction.VirtualizationException;
                }

                value = (uint)ctx.Index;
                break;
            case MsrPolicy.Xss: value = m.Xss; break;
            case MsrPolicy.Efer: value = m.Efer; break;
            case MsrPolicy.Star: value = m.Star; break;
            case MsrPolicy.Lstar: value = m.Lstar; break;
            case MsrPolicy.Fmask: value = m.Fmask; break;
            case MsrPolicy.FsBase: value = m.FsBase; break;
            case MsrPolicy.GsBase: value = m.GsBase; break;
            case MsrPolicy.KernelGsBase: value = m.KernelGsBase; break;
            case MsrPolicy.TscAux: value = m.TscAux; break;
            default: throw new InvalidOperationException($"MSR policy lists 0x{msr:X} as readable but no value is kept for it");
        }

        return MsrAction.Native;
    }

    private MsrAction WriteMsr(VcpuContext ctx, uint msr, ulong value)
    {
        VcpuMsrFile m = ctx.Msrs;
        switch (msr)
        {
            // IBRS, STIBP, SSBD: other bits #GP on the CPU models TdxSim imitates.
            case MsrPolicy.SpecCtrl:
                if ((value & ~0x7UL) != 0)
                {
                    return MsrAction.GeneralProtection;
                }

                m.SpecCtrl = value;
                break;

            // Commands (IBPB, L1D flush): bit 0 only, nothing is stored.
            case MsrPolicy.PredCmd:
            case MsrPolicy.FlushCmd:
                if ((value & ~1UL) != 0)
                {
                    return MsrAction.GeneralProtection;
                }

                break;
            case MsrPolicy.SysenterCs: m.SysenterCs = value; break;
            case MsrPolicy.SysenterEsp:
                if (!IsCanonical(value))
                {
                    return MsrAction.GeneralProtection;
                }

                m.SysenterEsp = value;
                break;
            case MsrPolicy.SysenterEip:
                if (!IsCanonical(value))
                {
                    return MsrAction.GeneralProtection;
                }

                m.SysenterEip = value;
                break;
            case MsrPolicy.Pat:
                if (!IsValidPat(value))
                {
                    return MsrAction.GeneralProtection;
                }

                m.Pat = value;
                break;
            case MsrPolicy.DebugCtl:
                return WriteDebugCtl(m, value);

            // Only supervisor states enabled in XFAM and supported may be set; TdxSim's XFAM has none.
            case MsrPolicy.Xss:
                if (value != 0)
                {
                    return MsrAction.GeneralProtection;
                }

                m.Xss = value;
                break;

            // Only SCE may change (LMA is read-only); any other change is an unsupported feature: #VE.
            case MsrPolicy.Efer:
                ulong efer = (value & ~EferLma) | (m.Efer & EferLma);
                if (((efer ^ m.Efer) & ~EferSce) != 0)
                {
                    return MsrAction.VirtualizationException;
                }

                m.Efer = efer;
                break;
            case MsrPolicy.Star: m.Star = value; break;
            case MsrPolicy.Lstar:
                if (!IsCanonical(value))
                {
                    return MsrAction.GeneralProtection;
                }

                m.Lstar = value;
                break;
            case MsrPolicy.Fmask: m.Fmask = value; break;
            case MsrPolicy.FsBase:
            case MsrPolicy.GsBase:
            case MsrPolicy.KernelGsBase:
                if (!IsCanonical(value))
                {
                    return MsrAction.GeneralProtection;
                }

                if (msr == MsrPolicy.FsBase)
                {
                    m.FsBase = value;
                }
                else if (msr == MsrPolicy.GsBase)
                {
                    m.GsBase = value;
                }
                else
                {
                    m.KernelGsBase = value;
                }

                break;
            case MsrPolicy.TscAux:
                if ((value >> 32) != 0)
                {
                    return MsrAction.GeneralProtection;
                }

                m.TscAux = value;
                break;
            default: throw new InvalidOperationException($"MSR policy lists 0x{msr:X} as writable but no value is kept for it");
        }

        return MsrAction.Native;
    }

    /// <summary>[MOD] wrmsr_ia32_debugctl: reserved bits #GP; TR without BTS #VE; FREEZE_WHILE_SMM needs PERFMON; RTM needs TSX.</summary>
    private MsrAction WriteDebugCtl(VcpuMsrFile m, ulong value)
    {
        if ((value & DebugCtlReserved) != 0)
        {
            return MsrAction.GeneralProtection;
        }

        if ((value & DebugCtlTr) != 0 && (value & DebugCtlBts) == 0)
        {
            return MsrAction.VirtualizationException;
        }

        if (((value & DebugCtlFreezeWhileSmm) != 0 && (Options.Attributes & TdAttributes.Perfmon) == 0) || (value & DebugCtlRtm) != 0)
        {
            return MsrAction.GeneralProtection;
        }

        // The uncore-PMI bit keeps its old value.
        m.DebugCtl = (value & ~DebugCtlUncorePmi) | (m.DebugCtl & DebugCtlUncorePmi);
        return MsrAction.Native;
    }

    /// <summary>Canonical for 48-bit linear addresses: bits 63:47 all equal.</summary>
    private static bool IsCanonical(ulong address) => ((long)address << 16 >> 16) == (long)address;

    /// <summary>Every PAT entry must be a valid memory type: 0 UC, 1 WC, 4 WT, 5 WP, 6 WB, 7 UC- (SDM Vol. 3A 13.12.2).</summary>
    private static bool IsValidPat(ulong pat)
    {
        for (int i = 0; i < 8; i++)
        {
            ulong type = (pat >> (i * 8)) & 0xFF;
            if (type is not (0 or 1 or 4 or 5 or 6 or 7))
            {
                return false;
            }
        }

        return true;
    }
}
