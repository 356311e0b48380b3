namespace TdxSim.Abi.Messages;

// Events the VMM reports to the machine besides those in MachineMessages.cs, and the machine's commands to the
// VMM. The VMM attributes each device event to the vCPU whose access caused it.

/// <summary>VMM to machine: the guest wrote a POST code to port 0x80 (logged, otherwise ignored).</summary>
public sealed record PostCodeWritten(int Vcpu, byte Code) : ITdxMessage;

/// <summary>
/// VMM to machine: the asynchronous part of TDG.VP.VMCALL&lt;GetQuote&gt; finished and the buffer's status field now
/// holds <paramref name="QuoteStatus"/> (0 success, 0x8000000000000000 error; reference 2.4).
/// <paramref name="NotifyVector"/> is the vector the vCPU registered with SetupEventNotifyInterrupt, which should be
/// injected into it, or null when none was registered (the guest polls the status).
/// </summary>
public sealed record QuoteCompleted(int Vcpu, ulong BufferGpa, ulong QuoteStatus, byte? NotifyVector) : ITdxMessage
{
    string? ITdxMessage.Subfn => "GetQuote";

    ulong? ITdxMessage.Status => QuoteStatus;
}

/// <summary>
/// Machine to VMM: make a vCPU that is blocked in TDG.VP.VMCALL&lt;Instruction.HLT&gt; runnable again (the host's
/// "set MP state RUNNABLE", or an event for it). The VMM then completes the pending HLT with SUCCESS; if the vCPU is
/// not halted, nothing happens.
/// </summary>
public sealed record WakeHaltedVcpu(int Vcpu) : ITdxMessage;
