namespace TdxSim.Abi.Messages;

// The protocol between a vCPU and the TDX module. Commands are imperative, replies past tense.

/// <summary>
/// vCPU to TDX module: the guest executed TDCALL (<c>66 0F 01 CC</c>), either from guest code
/// (the paravirt path) or from the built-in guest kernel's #VE handler. The module sees every GPR;
/// RAX selects the leaf.
/// </summary>
public sealed record TdcallRequested(int Vcpu, Gprs Regs) : ITdxMessage
{
    /// <summary>The leaf number from RAX.</summary>
    public ushort LeafNumber => TdcallLeafInfo.LeafOf(Regs[Gpr.Rax]);

    string? ITdxMessage.Leaf => TdcallLeafInfo.SpecName(LeafNumber);

    string? ITdxMessage.Subfn => LeafNumber == (ushort)TdcallLeaf.VpVmcall && Regs[Gpr.R10] == TdVmcall.StandardCall
        ? TdVmcall.SubfunctionName(Regs[Gpr.R11])
        : null;

    ushort ITdxMessage.VisibleRegisters => TdcallLeafInfo.InputMask(LeafNumber, Regs[Gpr.Rcx]);

    Gprs ITdxMessage.Registers => Regs;
}

/// <summary>
/// TDX module to vCPU: the TDCALL completed. RAX holds the completion status; <see cref="WrittenRegisters"/>
/// names every register the module wrote (RAX always). The vCPU writes exactly those and moves RIP past TDCALL.
/// </summary>
public sealed record TdcallCompleted(int Vcpu, ushort Leaf, ushort WrittenRegisters, Gprs Regs) : ITdxMessage
{
    /// <summary>The completion status (RAX).</summary>
    public ulong CompletionStatus => Regs[Gpr.Rax];

    /// <summary>The hostile-host fault behind this completion (one the module returned, or the VMM's reply it carries), or null.</summary>
    public string? InjectedFault { get; init; }

    string? ITdxMessage.Fault => InjectedFault;

    string? ITdxMessage.Leaf => TdcallLeafInfo.SpecName(Leaf);

    ulong? ITdxMessage.Status => CompletionStatus;

    ushort ITdxMessage.VisibleRegisters => WrittenRegisters;

    Gprs ITdxMessage.Registers => Regs;
}

/// <summary>
/// vCPU to TDX module: guest execution caused an event the module handles before the guest
/// sees it (CPUID, RDMSR, WRMSR, HLT, port I/O, an EPT violation): a TD exit. The module either
/// emulates it (CPUID leaves it virtualizes), injects #VE with <see cref="Exit"/> as the VE info,
/// injects #DF when VE info is still valid, or injects #GP.
/// </summary>
public sealed record TdExited(int Vcpu, VeInfo Exit, Gprs Regs) : ITdxMessage
{
    string? ITdxMessage.Reason => Exit.ReasonName;

    ushort ITdxMessage.VisibleRegisters => GprMask.Rax | GprMask.Rcx | GprMask.Rdx;

    Gprs ITdxMessage.Registers => Regs;
}

/// <summary>How the TDX module resumes a vCPU after <see cref="TdExited"/>.</summary>
public enum TdEntryAction
{
    /// <summary>The module emulated the instruction: write <see cref="TdEntered.WrittenRegisters"/> and advance RIP by the instruction length.</summary>
    Emulated,

    /// <summary>#VE injected; the VE info is now valid in the module until TDG.VP.VEINFO.GET.</summary>
    VeInjected,

    /// <summary>#VE while VE info was still valid: #DF injected (reference 3.2).</summary>
    DoubleFaultInjected,

    /// <summary>#GP(0) injected (e.g. an MSR the module refuses).</summary>
    GeneralProtectionInjected,

    /// <summary>
    /// The event cannot be delivered to the guest and the host cannot resolve it, so the TD is dead
    /// (e.g. touching a pending page while PENDING_VE_DISABLE is set: KVM marks the VM dead, reference 4.4).
    /// </summary>
    TdKilled,
}

/// <summary>TDX module to vCPU: the reply to <see cref="TdExited"/>.</summary>
public sealed record TdEntered(int Vcpu, TdEntryAction Action, VeInfo Exit, ushort WrittenRegisters, Gprs Regs) : ITdxMessage
{
    string? ITdxMessage.Reason => Exit.ReasonName;

    ushort ITdxMessage.VisibleRegisters => WrittenRegisters;

    Gprs ITdxMessage.Registers => Regs;
}
