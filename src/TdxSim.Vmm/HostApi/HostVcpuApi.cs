using TdxSim.Abi;
using TdxSim.Abi.HostApi;

namespace TdxSim.Vmm.HostApi;

/// <summary>What a host call returned: success, or KVM's refusal (an errno and why).</summary>
/// <param name="Errno">0 on success, else the positive errno KVM returns negated (22 = EINVAL).</param>
/// <param name="Reason">Why it was refused, or null.</param>
public readonly record struct HostCallResult(int Errno, string? Reason)
{
    /// <summary>EINVAL: what KVM returns for the calls protected state forbids.</summary>
    public const int Einval = 22;

    /// <summary>Success.</summary>
    public static HostCallResult Ok => default;

    /// <summary>True on success.</summary>
    public bool Succeeded => Errno == 0;

    /// <summary>A refusal with EINVAL.</summary>
    public static HostCallResult Refused(string reason) => new(Einval, reason);

    /// <inheritdoc/>
    public override string ToString() => Succeeded ? "ok" : $"-EINVAL: {Reason}";
}

/// <summary>The state of one vCPU as the host holds it (for a protected VM the host holds only what it may see).</summary>
public sealed class HostVcpuState
{
    /// <summary>General-purpose registers.</summary>
    public Gprs Regs;

    /// <summary>RIP.</summary>
    public ulong Rip;

    /// <summary>RFLAGS.</summary>
    public ulong Rflags = 0x2;

    /// <summary>CR0, CR3, CR4, EFER (the part of KVM's sregs modelled).</summary>
    public (ulong Cr0, ulong Cr3, ulong Cr4, ulong Efer) Sregs;

    /// <summary>The x87/SSE image (KVM's 416-byte <c>kvm_fpu</c>, here as the FXSAVE area).</summary>
    public byte[] Fpu = new byte[512];

    /// <summary>XCR0.</summary>
    public ulong Xcr0 = 0x3;

    /// <summary>DR0-DR3, DR6, DR7.</summary>
    public ulong[] DebugRegs = [0, 0, 0, 0, 0xFFFF0FF0, 0x400];

    /// <summary>The MP state.</summary>
    public MpState MpState;

    /// <summary>Vectors injected directly (KVM_INTERRUPT), in order.</summary>
    public Queue<byte> InjectedInterrupts { get; } = new();

    /// <summary>The posted-interrupt request bitmap (PIR), one bit per vector.</summary>
    public ulong[] PostedInterruptRequests = new ulong[4];

    /// <summary>NMIs pending (for TDX at most one: the PEND_NMI flag).</summary>
    public int PendingNmis;

    /// <summary>SMIs pending.</summary>
    public int PendingSmis;

    /// <summary>Machine-check banks set up by KVM_X86_SETUP_MCE (0: none).</summary>
    public int McgBanks;

    /// <summary>Machine checks injected.</summary>
    public int InjectedMces;

    /// <summary>KVM_SET_GUEST_DEBUG control flags.</summary>
    public uint GuestDebugControl;

    /// <summary>TSC frequency in kHz.</summary>
    public ulong TscKhz = 2_000_000;

    /// <summary>TSC offset.</summary>
    public long TscOffset;
}

/// <summary>
/// The host's interface to its vCPUs and guest memory, in the shape of KVM's vCPU ioctls, for the three VM types. For
/// a protected guest each call KVM refuses is refused the same way (-EINVAL with the reason), following Sean
/// Christopherson's list of the ioctls TDX blocks and the SEV-ES/TDX protected-state rules (seed 004, reference 6.2):
/// <list type="bullet">
/// <item>SEV-ES and TDX: no access to registers, special registers, FPU, XSAVE, XCRs, debug registers, no guest
/// debugging, no read-only memory (protected state);</item>
/// <item>TDX also: no direct interrupt, SMI or machine-check injection and no MP-state access; interrupts only as posted
/// interrupts, edge-triggered (EOIs are not intercepted, so no level-triggered ones); an NMI only as the pending flag
/// PEND_NMI, several collapsing into one; the TSC frequency and offset belong to the TDX module (TSC immutable);</item>
/// <item>SEV-ES has no SMM (SMI refused); private memory attributes exist only for TDX here (guest_memfd).</item>
/// </list>
/// Not thread-safe: one host thread drives a vCPU's ioctls, as in KVM.
/// </summary>
public sealed class HostVcpuApi
{
    private readonly HostVcpuState[] _vcpus;

    /// <summary>Creates the API of a VM of <paramref name="type"/> with <paramref name="vcpus"/> vCPUs.</summary>
    public HostVcpuApi(VmType type, int vcpus)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(vcpus, 1);
        Type = type;
        _vcpus = new HostVcpuState[vcpus];
        for (int i = 0; i < vcpus; i++)
        {
            _vcpus[i] = new HostVcpuState();
        }
    }

    /// <summary>The VM type.</summary>
    public VmType Type { get; }

    /// <summary>True when the guest's register state is protected from the host (SEV-ES, TDX).</summary>
    public bool GuestStateProtected => Type != VmType.Legacy;

    /// <summary>The host's view of vCPU <paramref name="vcpu"/> (tests, the machine).</summary>
    public HostVcpuState State(int vcpu) => _vcpus[vcpu];

    /// <summary>Whether <paramref name="call"/> is allowed on this VM type, and if not, why (the policy, without effect).</summary>
    public HostCallResult Check(HostCall call) => Policy(Type, call);

    /// <summary>The policy of every call on every VM type.</summary>
    public static HostCallResult Policy(VmType type, HostCall call)
    {
        const string protectedState = "the guest's state is protected (guest_state_protected)";
        bool isProtected = type != VmType.Legacy;
        bool tdx = type == VmType.Tdx;
        return call switch
        {
            HostCall.GetRegs or HostCall.SetRegs or HostCall.GetSregs or HostCall.SetSregs or HostCall.GetFpu or HostCall.SetFpu
                or HostCall.GetXsave or HostCall.SetXsave or HostCall.GetXcrs or HostCall.SetXcrs or HostCall.GetDebugRegs
                or HostCall.SetDebugRegs when isProtected
                => HostCallResult.Refused($"{Name(call)}: {protectedState}"),
            HostCall.SetGuestDebug when isProtected
                => HostCallResult.Refused($"{Name(call)}: {protectedState}: the host cannot single-step or set breakpoints in the guest"),
            HostCall.ReadOnlyMemory when isProtected
                => HostCallResult.Refused($"{Name(call)}: read-only memory is not supported with protected state (TDX's Secure EPT needs RWX on private memory)"),
            HostCall.GetMpState or HostCall.SetMpState when tdx
                => HostCallResult.Refused($"{Name(call)}: the TDX module owns the vCPU's activity state"),
            HostCall.Interrupt when tdx
                => HostCallResult.Refused($"{Name(call)}: TDX allows no direct event injection; interrupts go through posted interrupts (APICv)"),
            HostCall.LevelInterrupt when tdx
                => HostCallResult.Refused($"{Name(call)}: EOIs are not intercepted in a TD (protected EOI), so level-triggered interrupts cannot be emulated"),
            HostCall.Smi when tdx
                => HostCallResult.Refused($"{Name(call)}: TDX blocks SMI injection"),
            HostCall.Smi when type == VmType.SevEs
                => HostCallResult.Refused($"{Name(call)}: SMM is not supported for SEV-ES guests"),
            HostCall.SetupMce or HostCall.SetMce when tdx
                => HostCallResult.Refused($"{Name(call)}: TDX blocks machine-check injection"),
            HostCall.SetTscKhz or HostCall.SetTscOffset when tdx
                => HostCallResult.Refused($"{Name(call)}: the TSC is immutable to the host: its frequency is fixed at TD creation and its offset belongs to the TDX module"),
            HostCall.PrivateMemoryAttribute when !tdx
                => HostCallResult.Refused($"{Name(call)}: this VM has no private memory (KVM_MEMORY_ATTRIBUTE_PRIVATE needs a VM with guest_memfd)"),
            _ => HostCallResult.Ok,
        };
    }

    /// <summary>The KVM ioctl a call models.</summary>
    public static string Name(HostCall call) => call switch
    {
        HostCall.GetRegs => "KVM_GET_REGS",
        HostCall.SetRegs => "KVM_SET_REGS",
        HostCall.GetSregs => "KVM_GET_SREGS",
        HostCall.SetSregs => "KVM_SET_SREGS",
        HostCall.GetFpu => "KVM_GET_FPU",
        HostCall.SetFpu => "KVM_SET_FPU",
        HostCall.GetXsave => "KVM_GET_XSAVE",
        HostCall.SetXsave => "KVM_SET_XSAVE",
        HostCall.GetXcrs => "KVM_GET_XCRS",
        HostCall.SetXcrs => "KVM_SET_XCRS",
        HostCall.GetDebugRegs => "KVM_GET_DEBUGREGS",
        HostCall.SetDebugRegs => "KVM_SET_DEBUGREGS",
        HostCall.GetMpState => "KVM_GET_MP_STATE",
        HostCall.SetMpState => "KVM_SET_MP_STATE",
        HostCall.Interrupt => "KVM_INTERRUPT",
        HostCall.LevelInterrupt => "KVM_IRQ_LINE (level)",
        HostCall.PostedInterrupt => "posted interrupt",
        HostCall.Nmi => "KVM_NMI",
        HostCall.Smi => "KVM_SMI",
        HostCall.SetupMce => "KVM_X86_SETUP_MCE",
        HostCall.SetMce => "KVM_X86_SET_MCE",
        HostCall.SetGuestDebug => "KVM_SET_GUEST_DEBUG",
        HostCall.GetTscKhz => "KVM_GET_TSC_KHZ",
        HostCall.SetTscKhz => "KVM_SET_TSC_KHZ",
        HostCall.SetTscOffset => "KVM_VCPU_TSC_OFFSET",
        HostCall.ReadOnlyMemory => "KVM_MEM_READONLY",
        HostCall.PrivateMemoryAttribute => "KVM_SET_MEMORY_ATTRIBUTES (private)",
        _ => call.ToString(),
    };

    /// <summary>KVM_GET_REGS.</summary>
    public HostCallResult GetRegs(int vcpu, out Gprs regs, out ulong rip, out ulong rflags)
    {
        regs = default;
        rip = rflags = 0;
        HostCallResult r = Check(HostCall.GetRegs);
        if (r.Succeeded)
        {
            HostVcpuState s = At(vcpu);
            (regs, rip, rflags) = (s.Regs, s.Rip, s.Rflags);
        }

        return r;
    }

    /// <summary>KVM_SET_REGS.</summary>
    public HostCallResult SetRegs(int vcpu, in Gprs regs, ulong rip, ulong rflags)
    {
        HostCallResult r = Check(HostCall.SetRegs);
        if (r.Succeeded)
        {
            HostVcpuState s = At(vcpu);
            (s.Regs, s.Rip, s.Rflags) = (regs, rip, rflags | 0x2);
        }

        return r;
    }

    /// <summary>KVM_GET_SREGS (CR0, CR3, CR4, EFER).</summary>
    public HostCallResult GetSregs(int vcpu, out (ulong Cr0, ulong Cr3, ulong Cr4, ulong Efer) sregs)
    {
        sregs = default;
        HostCallResult r = Check(HostCall.GetSregs);
        if (r.Succeeded)
        {
            sregs = At(vcpu).Sregs;
        }

        return r;
    }

    /// <summary>KVM_SET_SREGS.</summary>
    public HostCallResult SetSregs(int vcpu, (ulong Cr0, ulong Cr3, ulong Cr4, ulong Efer) sregs) => Apply(vcpu, HostCall.SetSregs, s => s.Sregs = sregs);

    /// <summary>KVM_GET_FPU.</summary>
    public HostCallResult GetFpu(int vcpu, Span<byte> fpu) => GetFpuLike(vcpu, HostCall.GetFpu, fpu);

    /// <summary>KVM_SET_FPU.</summary>
    public HostCallResult SetFpu(int vcpu, ReadOnlySpan<byte> fpu)
    {
        byte[] copy = fpu.ToArray();
        return Apply(vcpu, HostCall.SetFpu, s => copy.AsSpan(0, Math.Min(copy.Length, s.Fpu.Length)).CopyTo(s.Fpu));
    }

    /// <summary>KVM_GET_XSAVE (the legacy FXSAVE region of it).</summary>
    public HostCallResult GetXsave(int vcpu, Span<byte> xsave) => GetFpuLike(vcpu, HostCall.GetXsave, xsave);

    /// <summary>KVM_SET_XSAVE.</summary>
    public HostCallResult SetXsave(int vcpu, ReadOnlySpan<byte> xsave)
    {
        byte[] copy = xsave.ToArray();
        return Apply(vcpu, HostCall.SetXsave, s => copy.AsSpan(0, Math.Min(copy.Length, s.Fpu.Length)).CopyTo(s.Fpu));
    }

    /// <summary>KVM_GET_XCRS (XCR0).</summary>
    public HostCallResult GetXcrs(int vcpu, out ulong xcr0)
    {
        ulong value = 0;
        HostCallResult r = Copy(vcpu, HostCall.GetXcrs, s => value = s.Xcr0);
        xcr0 = value;
        return r;
    }

    /// <summary>KVM_SET_XCRS: XCR0 bit 0 (x87) must stay set, as the CPU requires.</summary>
    public HostCallResult SetXcrs(int vcpu, ulong xcr0)
    {
        HostCallResult r = Check(HostCall.SetXcrs);
        if (!r.Succeeded)
        {
            return r;
        }

        if ((xcr0 & 1) == 0)
        {
            return HostCallResult.Refused("KVM_SET_XCRS: XCR0 bit 0 (x87) must be set");
        }

        At(vcpu).Xcr0 = xcr0;
        return r;
    }

    /// <summary>KVM_GET_DEBUGREGS.</summary>
    public HostCallResult GetDebugRegs(int vcpu, Span<ulong> dr)
    {
        HostCallResult r = Check(HostCall.GetDebugRegs);
        if (r.Succeeded)
        {
            ulong[] regs = At(vcpu).DebugRegs;
            regs.AsSpan(0, Math.Min(dr.Length, regs.Length)).CopyTo(dr);
        }

        return r;
    }

    /// <summary>KVM_SET_DEBUGREGS.</summary>
    public HostCallResult SetDebugRegs(int vcpu, ReadOnlySpan<ulong> dr)
    {
        ulong[] copy = dr.ToArray();
        return Apply(vcpu, HostCall.SetDebugRegs, s => copy.AsSpan(0, Math.Min(copy.Length, 6)).CopyTo(s.DebugRegs));
    }

    /// <summary>KVM_GET_MP_STATE.</summary>
    public HostCallResult GetMpState(int vcpu, out MpState state)
    {
        MpState value = default;
        HostCallResult r = Copy(vcpu, HostCall.GetMpState, s => value = s.MpState);
        state = value;
        return r;
    }

    /// <summary>KVM_SET_MP_STATE.</summary>
    public HostCallResult SetMpState(int vcpu, MpState state) => Apply(vcpu, HostCall.SetMpState, s => s.MpState = state);

    /// <summary>KVM_INTERRUPT: injects <paramref name="vector"/> (32..255) directly.</summary>
    public HostCallResult Interrupt(int vcpu, byte vector)
        => vector < 32 && Check(HostCall.Interrupt).Succeeded
            ? HostCallResult.Refused($"KVM_INTERRUPT: vector {vector} is an exception vector")
            : Apply(vcpu, HostCall.Interrupt, s => s.InjectedInterrupts.Enqueue(vector));

    /// <summary>A level-triggered interrupt on <paramref name="vector"/> (held until the guest's EOI).</summary>
    public HostCallResult LevelInterrupt(int vcpu, byte vector) => Apply(vcpu, HostCall.LevelInterrupt, s => s.InjectedInterrupts.Enqueue(vector));

    /// <summary>Posts <paramref name="vector"/> (32..255) to the vCPU's posted-interrupt descriptor: the only way into a TD.</summary>
    public HostCallResult PostInterrupt(int vcpu, byte vector)
        => vector < 32
            ? HostCallResult.Refused($"posted interrupt: vector {vector} is an exception vector")
            : Apply(vcpu, HostCall.PostedInterrupt, s => s.PostedInterruptRequests[vector >> 6] |= 1UL << (vector & 63));

    /// <summary>KVM_NMI. For TDX the NMI becomes the PEND_NMI flag: a second one while one is pending is merged into it.</summary>
    public HostCallResult Nmi(int vcpu)
        => Apply(vcpu, HostCall.Nmi, s => s.PendingNmis = Type == VmType.Tdx ? 1 : s.PendingNmis + 1);

    /// <summary>KVM_SMI.</summary>
    public HostCallResult Smi(int vcpu) => Apply(vcpu, HostCall.Smi, s => s.PendingSmis++);

    /// <summary>KVM_X86_SETUP_MCE with <paramref name="banks"/> banks (1..32).</summary>
    public HostCallResult SetupMce(int vcpu, int banks)
    {
        HostCallResult r = Check(HostCall.SetupMce);
        if (r.Succeeded && banks is < 1 or > 32)
        {
            return HostCallResult.Refused($"KVM_X86_SETUP_MCE: {banks} banks (1 to 32)");
        }

        return Apply(vcpu, HostCall.SetupMce, s => s.McgBanks = banks);
    }

    /// <summary>KVM_X86_SET_MCE: needs KVM_X86_SETUP_MCE first.</summary>
    public HostCallResult SetMce(int vcpu)
    {
        HostCallResult r = Check(HostCall.SetMce);
        if (r.Succeeded && At(vcpu).McgBanks == 0)
        {
            return HostCallResult.Refused("KVM_X86_SET_MCE: no machine-check banks (KVM_X86_SETUP_MCE first)");
        }

        return Apply(vcpu, HostCall.SetMce, s => s.InjectedMces++);
    }

    /// <summary>KVM_SET_GUEST_DEBUG.</summary>
    public HostCallResult SetGuestDebug(int vcpu, uint control) => Apply(vcpu, HostCall.SetGuestDebug, s => s.GuestDebugControl = control);

    /// <summary>KVM_GET_TSC_KHZ: allowed on every type (a TD's frequency is public, fixed at creation).</summary>
    public HostCallResult GetTscKhz(int vcpu, out ulong khz)
    {
        ulong value = 0;
        HostCallResult r = Copy(vcpu, HostCall.GetTscKhz, s => value = s.TscKhz);
        khz = value;
        return r;
    }

    /// <summary>KVM_SET_TSC_KHZ.</summary>
    public HostCallResult SetTscKhz(int vcpu, ulong khz)
        => khz == 0 && Check(HostCall.SetTscKhz).Succeeded
            ? HostCallResult.Refused("KVM_SET_TSC_KHZ: 0 kHz")
            : Apply(vcpu, HostCall.SetTscKhz, s => s.TscKhz = khz);

    /// <summary>KVM_VCPU_TSC_OFFSET.</summary>
    public HostCallResult SetTscOffset(int vcpu, long offset) => Apply(vcpu, HostCall.SetTscOffset, s => s.TscOffset = offset);

    /// <summary>KVM_SET_USER_MEMORY_REGION with KVM_MEM_READONLY for a slot at <paramref name="gpa"/>.</summary>
    public HostCallResult ReadOnlyMemory(ulong gpa, ulong size) => ((gpa | size) & (GuestPhysical.PageSize - 1)) != 0 && Check(HostCall.ReadOnlyMemory).Succeeded
        ? HostCallResult.Refused("KVM_MEM_READONLY: the slot must be page aligned")
        : Check(HostCall.ReadOnlyMemory);

    /// <summary>KVM_SET_MEMORY_ATTRIBUTES with KVM_MEMORY_ATTRIBUTE_PRIVATE.</summary>
    public HostCallResult SetPrivateAttribute(ulong gpa, ulong size) => ((gpa | size) & (GuestPhysical.PageSize - 1)) != 0 && Check(HostCall.PrivateMemoryAttribute).Succeeded
        ? HostCallResult.Refused("KVM_SET_MEMORY_ATTRIBUTES: the range must be page aligned")
        : Check(HostCall.PrivateMemoryAttribute);

    private HostVcpuState At(int vcpu)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual((uint)vcpu, (uint)_vcpus.Length, nameof(vcpu));
        return _vcpus[vcpu];
    }

    private HostCallResult GetFpuLike(int vcpu, HostCall call, Span<byte> into)
    {
        HostCallResult r = Check(call);
        if (r.Succeeded)
        {
            byte[] fpu = At(vcpu).Fpu;
            fpu.AsSpan(0, Math.Min(into.Length, fpu.Length)).CopyTo(into);
        }

        return r;
    }

    private delegate void StateReader(HostVcpuState state);

    private HostCallResult Copy(int vcpu, HostCall call, StateReader read)
    {
        HostCallResult r = Check(call);
        if (r.Succeeded)
        {
            read(At(vcpu));
        }

        return r;
    }

    private HostCallResult Apply(int vcpu, HostCall call, Action<HostVcpuState> write)
    {
        HostCallResult r = Check(call);
        if (r.Succeeded)
        {
            write(At(vcpu));
        }

        return r;
    }
}
