namespace TdxSim.TdxModule.Virtualization;

/// <summary>What the module does with a guest RDMSR or WRMSR of one MSR.</summary>
public enum MsrAction
{
    /// <summary>Inject #VE: the guest kernel asks the VMM (TDG.VP.VMCALL&lt;Instruction.RDMSR/WRMSR&gt;).</summary>
    VirtualizationException,

    /// <summary>Inject #GP(0): the MSR does not exist for a TD, or the access is not allowed.</summary>
    GeneralProtection,

    /// <summary>
    /// No TD exit on hardware (the MSR bitmap passes it through). TdxSim's module keeps the value per vCPU so a
    /// vCPU that forwards the access gets hardware behaviour, including the architectural #GP checks.
    /// </summary>
    Native,

    /// <summary>The module computes or checks the value (a virtualized MSR).</summary>
    Virtualized,

    /// <summary>
    /// Owned by the CPU itself (IA32_TIME_STAMP_COUNTER reads: the same counter as RDTSC). Never exits on hardware;
    /// a vCPU that forwards it is wrong, and the module throws.
    /// </summary>
    CpuOwned,
}
