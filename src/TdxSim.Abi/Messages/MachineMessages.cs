namespace TdxSim.Abi.Messages;

// Events that end or change the life of a vCPU or of the whole TD. The machine (the supervisor
// that assembles a TD) receives them and decides the exit status of contract section 2.

/// <summary>Why the guest asked to stop, or why a vCPU stopped.</summary>
public enum GuestStopKind
{
    /// <summary>A byte written to the debug-exit port 0xF4; exit status (v &lt;&lt; 1) | 1.</summary>
    DebugExit,

    /// <summary>Any write to the selftest success port 0x30; exit status 0.</summary>
    SelftestSuccess,

    /// <summary>TDG.VP.VMCALL&lt;ReportFatalError&gt;; exit status 4.</summary>
    ReportedFatalError,

    /// <summary>The vCPU cannot continue: an unhandled #VE, #DF, triple fault, an invalid instruction; exit status 4.</summary>
    GuestFatal,

    /// <summary>The vCPU reached its instruction limit; exit status 6.</summary>
    InstructionLimit,

    /// <summary>A bug in the emulator; exit status 8.</summary>
    InternalError,

    /// <summary>A hostile host never answered a request (the vCPU waited past the reply timeout); exit status 6.</summary>
    ReplyTimeout,
}

/// <summary>Machine to vCPU: start running guest code at the vCPU's entry state.</summary>
public sealed record StartVcpu(int Vcpu) : ITdxMessage;

/// <summary>Machine to vCPU: stop at the next instruction boundary and report the final state.</summary>
public sealed record StopVcpu(int Vcpu) : ITdxMessage;

/// <summary>
/// Machine to vCPU, once a second while a TD runs on the concurrent dispatcher: a vCPU that has waited
/// <paramref name="LongerThanNs"/> or more for the reply to a TDCALL or a TD exit, and is not halted, reports an
/// internal error (the reply was lost inside the emulator) rather than wait forever. On real time the wait is measured
/// on the kernel's coarse clock, to a few milliseconds.
/// </summary>
/// <param name="Vcpu">The vCPU asked.</param>
/// <param name="LongerThanNs">The wait for a reply from which on it is a stall (0: any reply still awaited).</param>
/// <param name="HostileHost">The host may withhold replies on purpose (a hostile VMM): a stall is then a
/// <see cref="GuestStopKind.ReplyTimeout"/>, not an internal error.</param>
public sealed record CheckReplyWait(int Vcpu, long LongerThanNs, bool HostileHost = false) : ITdxMessage;

/// <summary>
/// A component (the VMM for device exits and ReportFatalError, a vCPU for faults and limits)
/// asks the machine to stop the TD. <paramref name="Value"/> is the debug-exit byte or the fatal error code.
/// </summary>
public sealed record GuestStopRequested(int Vcpu, GuestStopKind Kind, ulong Value, string Detail) : ITdxMessage
{
    string? ITdxMessage.Reason => Kind.ToString();
}

/// <summary>
/// VMM to machine: the vCPU executed TDG.VP.VMCALL&lt;Instruction.HLT&gt; and is blocked until an event.
/// <paramref name="InterruptsBlocked"/> is R12 (RFLAGS.IF was clear). <paramref name="TimerArmed"/>: the VMM has an
/// APIC timer armed for it, so an interrupt can still come even if every vCPU halts.
/// </summary>
public sealed record VcpuHalted(int Vcpu, bool InterruptsBlocked, bool TimerArmed = false) : ITdxMessage
{
    string? ITdxMessage.Subfn => "Instruction.HLT";
}

/// <summary>VMM to machine: the guest reported a value on the selftest report port 0x31.</summary>
public sealed record SelftestReported(int Vcpu, ulong Value) : ITdxMessage;

/// <summary>
/// vCPU to machine: the vCPU has stopped running. <paramref name="State"/> is what it was doing
/// ("halted", "running", "fatal", "limit", "waiting"), followed by its architectural state.
/// </summary>
public sealed record VcpuStopped(int Vcpu, string State, ulong Instructions, ulong Rip, ulong Rflags, Gprs Regs) : ITdxMessage
{
    ushort ITdxMessage.VisibleRegisters => GprMask.All;

    Gprs ITdxMessage.Registers => Regs;
}
