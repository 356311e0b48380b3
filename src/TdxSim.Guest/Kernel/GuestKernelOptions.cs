namespace TdxSim.Guest.Kernel;

/// <summary>How the built-in guest kernel behaves where Linux offers a choice.</summary>
public sealed record GuestKernelOptions
{
    /// <summary>
    /// Emulate INS/OUTS element by element, one TDVMCALL&lt;Instruction.IO&gt; each (scenario key
    /// <c>unroll_string_io</c>). When false, string I/O reaching the #VE handler is guest fatal, as in Linux,
    /// which instead unrolls string I/O at build time (CC_ATTR_GUEST_UNROLL_STRING_IO; reference 3.6).
    /// </summary>
    public bool UnrollStringIo { get; init; }

    /// <summary>
    /// Accept a pending private page on its EPT-violation #VE (TDG.MEM.PAGE.ACCEPT, 4 KiB) and retry the
    /// instruction, as the KVM TDX selftests' handler does. When false, the kernel panics as Linux does
    /// ("Unexpected EPT-violation on private memory"; reference 3.4).
    /// </summary>
    public bool AcceptPendingPages { get; init; } = true;

    /// <summary>
    /// The TD's private memory starts pending (scenario <c>accept: lazy</c>). The TDX module injects an EPT-violation
    /// #VE only for a pending page, so a private EPT-violation #VE whose page is accepted by the time the handler
    /// looks means another vCPU's accept won the race: the kernel re-executes the instruction. Otherwise (and in
    /// Linux) an EPT violation on accepted private memory is a panic.
    /// </summary>
    public bool LazyAccept { get; init; }

    /// <summary>
    /// How many times the kernel re-issues a TDG.MEM.PAGE.ACCEPT the TDX module answered with TDX_OPERAND_BUSY
    /// (another vCPU's accept holds the page's SEPT entry) before it treats the busy status as the failure Linux
    /// makes of it ("Failed to accept memory"). Zero: no retry, Linux 6.12's try_accept_one.
    /// </summary>
    /// <remarks>
    /// 64 on virtual time (deterministic mode), where a holder releases the entry at the end of its cost, so a
    /// retry rarely meets more than the other vCPUs' attempts; <see cref="RealTimeAcceptBusyRetryLimit"/> on real
    /// threads, where the holder is a host thread the OS may preempt while the others retry in microseconds.
    /// </remarks>
    public int AcceptBusyRetryLimit { get; init; } = 64;

    /// <summary>The retry limit on real threads (concurrent mode): about a second of back-to-back retries.</summary>
    public const int RealTimeAcceptBusyRetryLimit = 1 << 20;

    /// <summary>The GPR_SELECT mask the kernel's TDVMCALLs use: Linux's 0xFFCC since v6.6 (reference 2.1).</summary>
    public ushort VmcallSelectMask { get; init; } = Abi.TdVmcall.LinuxSelectMask;

    /// <summary>
    /// The guest is a Linux kernel (<c>--kernel</c>): it owns its exception handling (contract section 3), so the
    /// built-in #VE handler is not used; a #VE the TDX module injects is delivered through the guest's IDT
    /// (not implemented yet: guest fatal naming the instruction).
    /// </summary>
    public bool LinuxGuest { get; init; }

    /// <summary>The default options.</summary>
    public static GuestKernelOptions Default { get; } = new();
}
