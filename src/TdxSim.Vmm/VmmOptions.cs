using TdxSim.Vmm.Cpuid;
using TdxSim.Vmm.Msr;

namespace TdxSim.Vmm;

/// <summary>How the VMM behaves. Defaults model KVM with a well-behaved user space.</summary>
public sealed record VmmOptions
{
    /// <summary>Number of vCPUs (per-vCPU state: MSRs, halt, notify vector).</summary>
    public required int VcpuCount { get; init; }

    /// <summary>
    /// MapGPA returns RETRY with R11 = the next GPA after every 2 MiB chunk, as KVM does when an event is pending,
    /// to exercise the guest's retry loop (reference 2.5). Off: the whole range is converted in one call.
    /// </summary>
    public bool MapGpaRetryAfterEachChunk { get; init; }

    /// <summary>ReportFatalError gets a SUCCESS reply, so the guest resumes (the selftest verify_report_fatal_error
    /// host does this). Off: no reply, like Linux expects.</summary>
    public bool ResumeAfterReportFatalError { get; init; }

    /// <summary>The MSR policy and reset values.</summary>
    public MsrTable Msrs { get; init; } = MsrTable.CreateDefault();

    /// <summary>Guest TSC ticks per APIC-timer tick in one-shot and periodic mode: the TSC (2 GHz, CPUID 0x15) over
    /// the 25 MHz core crystal clock the APIC timer counts in a TD (KVM's TDX APIC bus is 25 MHz).</summary>
    public ulong TscPerApicTick { get; init; } = 80;

    /// <summary>The CPUID table.</summary>
    public CpuidTable Cpuid { get; init; } = CpuidTable.CreateDefault();
}
