using System.Collections.Immutable;
using TdxSim.Abi.HostApi;

namespace TdxSim.Abi.Messages;

// The host API over live vCPUs (seed 004). The VMM (userspace, QEMU's place) sends a HostVcpuCall to the machine,
// which plays the host kernel: it refuses what the VM type forbids, as KVM does, answering at once, and forwards the
// rest to the vCPU, which carries the call out on its own architectural state between two slices and answers the
// VMM with HostVcpuCallCompleted. A refused call never reaches the vCPU.

/// <summary>
/// The arguments of a host call, and in its completion the vCPU's state the call read or left. Only the fields the
/// call uses mean anything; a refusal carries <see cref="None"/>.
/// </summary>
public sealed record HostVcpuData
{
    /// <summary>No data: what a refusal carries.</summary>
    public static readonly HostVcpuData None = new();

    /// <summary>KVM_GET/SET_REGS: the general-purpose registers.</summary>
    public Gprs Regs { get; init; }

    /// <summary>KVM_GET/SET_REGS: RIP.</summary>
    public ulong Rip { get; init; }

    /// <summary>KVM_GET/SET_REGS: RFLAGS.</summary>
    public ulong Rflags { get; init; }

    /// <summary>KVM_GET/SET_SREGS: CR0.</summary>
    public ulong Cr0 { get; init; }

    /// <summary>KVM_GET/SET_SREGS: CR3.</summary>
    public ulong Cr3 { get; init; }

    /// <summary>KVM_GET/SET_SREGS: CR4.</summary>
    public ulong Cr4 { get; init; }

    /// <summary>KVM_GET/SET_SREGS: EFER.</summary>
    public ulong Efer { get; init; }

    /// <summary>KVM_GET/SET_FPU: the 512-byte FXSAVE image; KVM_GET/SET_XSAVE: that plus the 64-byte XSAVE header.</summary>
    public ImmutableArray<byte> Fpu { get; init; } = [];

    /// <summary>KVM_GET/SET_XCRS: XCR0.</summary>
    public ulong Xcr0 { get; init; }

    /// <summary>KVM_GET/SET_DEBUGREGS: DR0, DR1, DR2, DR3, DR6, DR7.</summary>
    public ImmutableArray<ulong> DebugRegs { get; init; } = [];

    /// <summary>KVM_GET/SET_MP_STATE.</summary>
    public MpState MpState { get; init; }

    /// <summary>KVM_INTERRUPT, level-triggered and posted interrupts: the vector.</summary>
    public byte Vector { get; init; }

    /// <summary>
    /// KVM_X86_SETUP_MCE: banks; KVM_SET_GUEST_DEBUG: the control flags; KVM_GET/SET_TSC_KHZ: kHz; TSC offset: the
    /// offset (two's complement); the memory calls: the GPA.
    /// </summary>
    public ulong Value { get; init; }

    /// <summary>The memory calls: the size in bytes.</summary>
    public ulong Size { get; init; }

    /// <summary>In a completion of a TSC call: the TSC the guest reads now (RDTSC at the vCPU's next instruction).</summary>
    public ulong Tsc { get; init; }

    /// <summary>In a completion of an event call: the vCPU's pending events after it.</summary>
    public HostVcpuEvents? Events { get; init; }
}

/// <summary>A vCPU's pending events as the host injected them (not yet delivered to the guest).</summary>
/// <param name="Interrupts">Vectors injected directly (KVM_INTERRUPT), oldest first.</param>
/// <param name="LevelInterrupts">Vectors asserted level-triggered, oldest first.</param>
/// <param name="PostedInterruptRequests">The posted-interrupt request bitmap (PIR), 4 x 64 bits.</param>
/// <param name="PendingNmis">NMIs pending (for a TD at most one: PEND_NMI).</param>
/// <param name="PendingSmis">SMIs pending.</param>
/// <param name="McgBanks">Machine-check banks set up (0: none).</param>
/// <param name="InjectedMces">Machine checks injected.</param>
/// <param name="HighestRequestedVector">The highest vector in the virtual APIC's VIRR (requested, not yet delivered), or -1.</param>
public sealed record HostVcpuEvents(
    ImmutableArray<byte> Interrupts,
    ImmutableArray<byte> LevelInterrupts,
    ImmutableArray<ulong> PostedInterruptRequests,
    int PendingNmis,
    int PendingSmis,
    int McgBanks,
    int InjectedMces,
    int HighestRequestedVector = -1);

/// <summary>
/// VMM to machine (and, when the VM type allows it, machine to vCPU): one vCPU or memory ioctl of the host API.
/// <paramref name="Id"/> is the VMM's, echoed in the completion. <see cref="VmType"/> is set by the machine when it
/// forwards the call (the vCPU needs it for the one call whose effect depends on it: a TD's NMIs collapse).
/// </summary>
public sealed record HostVcpuCall(int Vcpu, HostCall Call, long Id, HostVcpuData Data) : ITdxMessage
{
    /// <summary>The machine's VM type, stamped when it forwards the call.</summary>
    public VmType VmType { get; init; } = VmType.Tdx;

    string? ITdxMessage.Subfn => Call.ToString();
}

/// <summary>
/// vCPU (or, for a refusal or a memory call, the machine) to VMM: the call's result. <paramref name="Errno"/> is 0 on
/// success, else KVM's positive errno (22 = EINVAL) and <paramref name="Reason"/> says why; a refusal carries
/// <see cref="HostVcpuData.None"/>.
/// </summary>
public sealed record HostVcpuCallCompleted(int Vcpu, HostCall Call, long Id, int Errno, string? Reason, HostVcpuData Data) : ITdxMessage
{
    /// <summary>True on success.</summary>
    public bool Succeeded => Errno == 0;

    string? ITdxMessage.Subfn => Call.ToString();

    string? ITdxMessage.Reason => Reason;

    ulong? ITdxMessage.Status => (ulong)(uint)Errno;

    // The host sees every register it read or wrote (a legacy VM's KVM_GET/SET_REGS), and nothing else.
    ushort ITdxMessage.VisibleRegisters => Errno == 0 && Call is HostCall.GetRegs or HostCall.SetRegs ? GprMask.All : (ushort)0;

    Gprs ITdxMessage.Registers => Data.Regs;
}
