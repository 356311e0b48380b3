using TdxSim.Abi;
using TdxSim.Abi.Messages;
using TdxSim.TdxModule.Virtualization;

namespace TdxSim.TdxModule;

// TD exits the module handles before the guest sees anything (reference 3.1; [MOD] tdx_td_dispatcher.c, td_cpuid.c,
// td_msr_access.c, td_ept_violation.c).
public sealed partial class TdxModuleCore
{
    private const ushort CpuidOutputs = GprMask.Rax | GprMask.Rbx | GprMask.Rcx | GprMask.Rdx;
    private const ushort RdmsrOutputs = GprMask.Rax | GprMask.Rdx;

    /// <summary>
    /// Handles one TD exit and says how the vCPU resumes:
    /// <list type="bullet">
    /// <item>CPUID: leaves the module virtualizes are emulated (RAX..RDX written, no #VE); others #VE.</item>
    /// <item>RDMSR/WRMSR: per <see cref="MsrPolicy"/>: emulated, #GP(0), or #VE.</item>
    /// <item>HLT, INVD, VMCALL, port I/O, MWAIT, MONITOR, WBINVD, APIC write, PCONFIG: #VE. (MONITOR/MWAIT: Linux's
    /// documentation says #VE; the 1.5/2.0 module source injects #UD. TdxSim follows the documented #VE.)</item>
    /// <item>EPT violation: shared GPA → #VE (MMIO); pending private page → #VE, or the TD dies while
    /// TD_CTLS.PENDING_VE_DISABLE is set (reference 4.4); no private page → the TD dies.</item>
    /// </list>
    /// Every #VE follows the nesting rule: VE info still valid → #DF instead.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">No such vCPU.</exception>
    /// <exception cref="ArgumentException">An exit reason that never reaches the module from a TD vCPU.</exception>
    /// <exception cref="InvalidOperationException">The vCPU still has a TDG.VP.VMCALL with the VMM, or forwarded an MSR access the CPU owns.</exception>
    public TdEntered HandleTdExit(TdExited exit)
    {
        ArgumentNullException.ThrowIfNull(exit);
        VcpuContext ctx = Context(exit.Vcpu);
        ThrowIfVmcallInFlight(ctx, "TD exit");
        VeInfo info = exit.Exit;
        Counters.CountExit(ctx.Index, info.ExitReason);
        if (IsTdKilled)
        {
            return Killed(ctx, info);
        }

        Gprs regs = exit.Regs;
        switch (info.ExitReason)
        {
            case VeExitReason.Cpuid:
                return Cpuid(ctx, in info, in regs);
            case VeExitReason.MsrRead:
                return Rdmsr(ctx, info, (uint)regs[Gpr.Rcx]);
            case VeExitReason.MsrWrite:
                return Wrmsr(ctx, info, (uint)regs[Gpr.Rcx], ((ulong)(uint)regs[Gpr.Rdx] << 32) | (uint)regs[Gpr.Rax]);
            case VeExitReason.EptViolation:
                return EptViolation(ctx, info, "the guest");
            case VeExitReason.Hlt:
            case VeExitReason.Invd:
            case VeExitReason.Vmcall:
            case VeExitReason.IoInstruction:
            case VeExitReason.MwaitInstruction:
            case VeExitReason.MonitorInstruction:
            case VeExitReason.Wbinvd:
            case VeExitReason.ApicWrite:
            case VeExitReason.Pconfig:
                return InjectVe(ctx, info);
            default:
                throw new ArgumentException(
                    $"vCPU {ctx.Index}: exit reason {info.ReasonName} ({(uint)info.ExitReason}) never reaches the TDX module from a TD vCPU",
                    nameof(exit));
        }
    }

    private TdEntered Cpuid(VcpuContext ctx, in VeInfo info, in Gprs regs)
    {
        if (!_cpuid.TryGet((uint)regs[Gpr.Rax], (uint)regs[Gpr.Rcx], ctx.Index, TdCtlsValue, out CpuidResult r))
        {
            return InjectVe(ctx, info);
        }

        // CPUID writes EAX..EDX and zeroes the upper halves of RAX..RDX.
        Gprs result = default;
        result[Gpr.Rax] = r.Eax;
        result[Gpr.Rbx] = r.Ebx;
        result[Gpr.Rcx] = r.Ecx;
        result[Gpr.Rdx] = r.Edx;
        return Entry(ctx, TdEntryAction.Emulated, info, CpuidOutputs, result);
    }

    private TdEntered Rdmsr(VcpuContext ctx, in VeInfo info, uint msr)
    {
        MsrRule rule = MsrPolicy.Lookup(msr);
        MsrAction action = rule.Read;
        ulong value = 0;
        if (action is MsrAction.Native or MsrAction.Virtualized)
        {
            action = ReadMsr(ctx, msr, out value);
        }

        switch (action)
        {
            case MsrAction.Native:
                Gprs result = default;
                result[Gpr.Rax] = (uint)value;
                result[Gpr.Rdx] = value >> 32;
                return Entry(ctx, TdEntryAction.Emulated, info, RdmsrOutputs, result);
            case MsrAction.GeneralProtection:
                return Entry(ctx, TdEntryAction.GeneralProtectionInjected, info, 0, default);
            case MsrAction.CpuOwned:
                throw new InvalidOperationException(
                    $"vCPU {ctx.Index} forwarded RDMSR 0x{msr:X} ({rule.Name}); it never exits on hardware, the CPU must execute it (as RDTSC)");
            default:
                return InjectVe(ctx, info);
        }
    }

    private TdEntered Wrmsr(VcpuContext ctx, in VeInfo info, uint msr, ulong value)
    {
        MsrAction action = MsrPolicy.Lookup(msr).Write;
        if (action is MsrAction.Native or MsrAction.Virtualized)
        {
            action = WriteMsr(ctx, msr, value);
        }

        return action switch
        {
            MsrAction.Native => Entry(ctx, TdEntryAction.Emulated, info, 0, default),
            MsrAction.GeneralProtection => Entry(ctx, TdEntryAction.GeneralProtectionInjected, info, 0, default),
            _ => InjectVe(ctx, info),
        };
    }
}
