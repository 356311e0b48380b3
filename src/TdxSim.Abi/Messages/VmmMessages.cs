namespace TdxSim.Abi.Messages;

// The protocol between the TDX module and the (untrusted) VMM.

/// <summary>
/// TDX module to VMM: a TDG.VP.VMCALL the guest made. Only the registers selected by
/// <see cref="GprSelect"/> carry guest values; every other register is zero in this view
/// (reference 2.1). R10 = 0 selects a GHCI call whose sub-function is in R11.
/// </summary>
public sealed record TdVmcallRequested(int Vcpu, ushort GprSelect, Gprs Regs) : ITdxMessage
{
    /// <summary>The sub-function (R11) of a standard call.</summary>
    public ulong Subfunction => Regs[Gpr.R11];

    /// <summary>True for a standard GHCI call (R10 = 0).</summary>
    public bool IsStandard => Regs[Gpr.R10] == TdVmcall.StandardCall;

    string? ITdxMessage.Leaf => "TDG.VP.VMCALL";

    string? ITdxMessage.Subfn => IsStandard ? TdVmcall.SubfunctionName(Subfunction) : "KVM hypercall";

    ushort ITdxMessage.VisibleRegisters => GprSelect;

    Gprs ITdxMessage.Registers => Regs;
}

/// <summary>
/// VMM to TDX module: the VMM's answer. R10 carries the TDVMCALL status; the module copies back
/// only the registers the guest selected.
/// </summary>
public sealed record TdVmcallCompleted(int Vcpu, ulong Subfunction, ushort GprSelect, Gprs Regs) : ITdxMessage
{
    /// <summary>The TDVMCALL status (R10).</summary>
    public ulong VmcallStatus => Regs[Gpr.R10];

    /// <summary>The hostile-host fault injected into this reply, or null for an honest one.</summary>
    public string? InjectedFault { get; init; }

    string? ITdxMessage.Fault => InjectedFault;

    string? ITdxMessage.Leaf => "TDG.VP.VMCALL";

    string? ITdxMessage.Subfn => TdVmcall.SubfunctionName(Subfunction);

    ulong? ITdxMessage.Status => VmcallStatus;

    ushort ITdxMessage.VisibleRegisters => GprSelect;

    Gprs ITdxMessage.Registers => Regs;
}

/// <summary>
/// VMM to machine: a hostile host injected a fault that leaves no reply to mark (a reply withheld), so the message
/// log still names it. <paramref name="FaultName"/> is the kind, <paramref name="Request"/> the request it hit.
/// </summary>
public sealed record HostFaultInjected(int Vcpu, string FaultName, string Request, string Detail) : ITdxMessage
{
    string? ITdxMessage.Leaf => "TDG.VP.VMCALL";

    string? ITdxMessage.Fault => FaultName;
}
