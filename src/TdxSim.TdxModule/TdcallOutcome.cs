using TdxSim.Abi.Messages;

namespace TdxSim.TdxModule;

/// <summary>What the module does with one TDCALL.</summary>
public enum TdcallOutcomeKind
{
    /// <summary>The leaf completed: send <see cref="TdcallOutcome.Completion"/> to the vCPU.</summary>
    Completed,

    /// <summary>TDG.VP.VMCALL: send <see cref="TdcallOutcome.VmcallRequest"/> to the VMM; the vCPU waits for its answer.</summary>
    ForwardToVmm,

    /// <summary>
    /// The leaf did not complete because touching a guest operand faulted (an EPT violation while the module
    /// walked a GPA operand, reference 1.3): send <see cref="TdcallOutcome.Fault"/> (a <see cref="TdEntered"/>) to
    /// the vCPU instead of a completion. RIP stays on the TDCALL and no register is written: on
    /// <see cref="TdEntryAction.VeInjected"/> the guest's #VE handler runs, and re-executes the TDCALL if it resolved
    /// the fault (e.g. accepted the page); <see cref="TdEntryAction.TdKilled"/> ends the TD.
    /// </summary>
    Faulted,
}

/// <summary>
/// The result of <see cref="TdxModuleCore.HandleTdcall(TdcallRequested)"/>: exactly one of the three messages, chosen by <see cref="Kind"/>.
/// </summary>
public readonly record struct TdcallOutcome
{
    private TdcallOutcome(TdcallOutcomeKind kind, TdcallCompleted? completion, TdVmcallRequested? request, TdEntered? fault)
    {
        Kind = kind;
        Completion = completion;
        VmcallRequest = request;
        Fault = fault;
    }

    /// <summary>Which message the outcome carries.</summary>
    public TdcallOutcomeKind Kind { get; }

    /// <summary>The reply to the vCPU when <see cref="Kind"/> is <see cref="TdcallOutcomeKind.Completed"/>.</summary>
    public TdcallCompleted? Completion { get; }

    /// <summary>The request to the VMM when <see cref="Kind"/> is <see cref="TdcallOutcomeKind.ForwardToVmm"/>.</summary>
    public TdVmcallRequested? VmcallRequest { get; }

    /// <summary>The event for the vCPU when <see cref="Kind"/> is <see cref="TdcallOutcomeKind.Faulted"/>.</summary>
    public TdEntered? Fault { get; }

    /// <summary>A completed leaf.</summary>
    public static TdcallOutcome Complete(TdcallCompleted completion) => new(TdcallOutcomeKind.Completed, completion, null, null);

    /// <summary>A TDG.VP.VMCALL handed to the VMM.</summary>
    public static TdcallOutcome Forward(TdVmcallRequested request) => new(TdcallOutcomeKind.ForwardToVmm, null, request, null);

    /// <summary>A leaf interrupted by an event delivered to the vCPU.</summary>
    public static TdcallOutcome Faulting(TdEntered fault) => new(TdcallOutcomeKind.Faulted, null, null, fault);
}
