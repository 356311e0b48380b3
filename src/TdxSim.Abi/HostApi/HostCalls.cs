namespace TdxSim.Abi.HostApi;

// The host API over vCPUs (seed 004): shared by the VMM (which makes the calls), the machine (which, as the host
// kernel, refuses what the VM type forbids) and the vCPUs (which carry them out), so none references another.

/// <summary>The kind of VM a host API serves, as KVM's VM types: whether the guest's state is protected from the host.</summary>
public enum VmType
{
    /// <summary>An ordinary VM (KVM_X86_DEFAULT_VM): the host owns every register and may inject any event.</summary>
    Legacy,

    /// <summary>AMD SEV-ES (KVM_X86_SEV_ES_VM): the register state is encrypted in the VMSA (<c>guest_state_protected</c>).</summary>
    SevEs,

    /// <summary>Intel TDX (KVM_X86_TDX_VM): the TDX module owns the vCPU state, the TSC, event injection and private memory.</summary>
    Tdx,
}

/// <summary>The vCPU and memory calls of the host API, named after the KVM ioctls they model.</summary>
public enum HostCall
{
    /// <summary>KVM_GET_REGS.</summary>
    GetRegs,

    /// <summary>KVM_SET_REGS.</summary>
    SetRegs,

    /// <summary>KVM_GET_SREGS.</summary>
    GetSregs,

    /// <summary>KVM_SET_SREGS.</summary>
    SetSregs,

    /// <summary>KVM_GET_FPU.</summary>
    GetFpu,

    /// <summary>KVM_SET_FPU.</summary>
    SetFpu,

    /// <summary>KVM_GET_XSAVE.</summary>
    GetXsave,

    /// <summary>KVM_SET_XSAVE.</summary>
    SetXsave,

    /// <summary>KVM_GET_XCRS.</summary>
    GetXcrs,

    /// <summary>KVM_SET_XCRS.</summary>
    SetXcrs,

    /// <summary>KVM_GET_DEBUGREGS.</summary>
    GetDebugRegs,

    /// <summary>KVM_SET_DEBUGREGS.</summary>
    SetDebugRegs,

    /// <summary>KVM_GET_MP_STATE.</summary>
    GetMpState,

    /// <summary>KVM_SET_MP_STATE.</summary>
    SetMpState,

    /// <summary>KVM_INTERRUPT: inject an external interrupt vector directly.</summary>
    Interrupt,

    /// <summary>A level-triggered interrupt (an I/O APIC line held asserted until EOI; KVM_IRQ_LINE level).</summary>
    LevelInterrupt,

    /// <summary>An interrupt posted to the vCPU's posted-interrupt descriptor (APICv, PIR bit + notification).</summary>
    PostedInterrupt,

    /// <summary>KVM_NMI.</summary>
    Nmi,

    /// <summary>KVM_SMI.</summary>
    Smi,

    /// <summary>KVM_X86_SETUP_MCE.</summary>
    SetupMce,

    /// <summary>KVM_X86_SET_MCE: inject a machine check.</summary>
    SetMce,

    /// <summary>KVM_SET_GUEST_DEBUG.</summary>
    SetGuestDebug,

    /// <summary>KVM_GET_TSC_KHZ.</summary>
    GetTscKhz,

    /// <summary>KVM_SET_TSC_KHZ.</summary>
    SetTscKhz,

    /// <summary>KVM_SET_DEVICE_ATTR KVM_VCPU_TSC_OFFSET.</summary>
    SetTscOffset,

    /// <summary>KVM_SET_USER_MEMORY_REGION with KVM_MEM_READONLY.</summary>
    ReadOnlyMemory,

    /// <summary>KVM_SET_MEMORY_ATTRIBUTES with KVM_MEMORY_ATTRIBUTE_PRIVATE.</summary>
    PrivateMemoryAttribute,
}

/// <summary>A vCPU's multiprocessor state (KVM_MP_STATE_*).</summary>
public enum MpState
{
    /// <summary>KVM_MP_STATE_RUNNABLE.</summary>
    Runnable,

    /// <summary>KVM_MP_STATE_HALTED.</summary>
    Halted,

    /// <summary>KVM_MP_STATE_UNINITIALIZED (an AP waiting for INIT/SIPI).</summary>
    Uninitialized,
}
