namespace TdxSim.Abi.Messages;

// Interrupt delivery into a TD (reference 6.2): the VMM emulates the x2APIC registers that exit (ICR, timer, LVT,
// SVR, ...) and may only deliver by posting an interrupt (the posted-interrupt descriptor's PIR bit and the
// notification), never by injecting an event. The CPU folds the PIR into the virtual APIC's VIRR and delivers it
// through the guest's IDT by virtual-interrupt delivery.

/// <summary>VMM to vCPU: a posted interrupt with <paramref name="Vector"/> (PIR bit set, notification sent).</summary>
public sealed record PostedInterrupt(int Vcpu, byte Vector) : ITdxMessage
{
    string? ITdxMessage.Reason => "posted-interrupt";
}

/// <summary>
/// VMM to vCPU: (re)programs the host timer that emulates the vCPU's APIC timer, in the guest's TSC time base (as KVM
/// arms an hrtimer, or the VMX preemption timer, for the vCPU). <paramref name="DeadlineTsc"/> is an absolute guest
/// TSC (TSC-deadline mode); otherwise <paramref name="RelativeTicks"/> TSC ticks from the guest's TSC when the vCPU
/// gets this (one-shot or periodic mode: the vCPU is stopped in the WRMSR's TDVMCALL then). Both 0: disarmed.
/// <paramref name="Generation"/> tells a stale expiry from the current one.
/// </summary>
public sealed record ArmGuestTimer(int Vcpu, long Generation, ulong DeadlineTsc, ulong RelativeTicks) : ITdxMessage
{
    /// <summary>Whether this disarms the timer.</summary>
    public bool Disarms => DeadlineTsc == 0 && RelativeTicks == 0;
}

/// <summary>vCPU to VMM: the timer of <paramref name="Generation"/> expired at guest TSC <paramref name="Tsc"/>.</summary>
public sealed record GuestTimerExpired(int Vcpu, long Generation, ulong Tsc) : ITdxMessage;

/// <summary>VMM to machine: a vCPU halted in Instruction.HLT was made runnable (an interrupt, or the host).</summary>
public sealed record VcpuWoke(int Vcpu) : ITdxMessage
{
    string? ITdxMessage.Subfn => "Instruction.HLT";
}
