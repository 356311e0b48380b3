namespace TdxSim.Machine.Scenarios;

/// <summary>Where the guest code comes from.</summary>
/// <param name="BuiltIn">Name of a built-in guest (e.g. <c>smp-hello</c>), or null.</param>
/// <param name="ImagePath">Path of an ELF64 or flat image, or null.</param>
/// <param name="Image">An image built in memory (tests, <c>stress</c>), or null.</param>
/// <param name="KernelPath">Path of a Linux bzImage loaded by the boot protocol (<c>--kernel</c>), or null.</param>
public sealed record GuestSource(string? BuiltIn, string? ImagePath, Images.GuestImage? Image = null, string? KernelPath = null)
{
    /// <summary>A Linux bzImage (contract section 9).</summary>
    public static GuestSource FromKernel(string path) => new(null, null, null, path);

    /// <summary>An image built in memory, e.g. with <see cref="Images.GuestProgram"/>.</summary>
    public static GuestSource FromProgram(Images.GuestImage image) => new(null, null, image);

    /// <summary>A built-in guest.</summary>
    public static GuestSource FromBuiltIn(string name) => new(name, null);

    /// <summary>An image file.</summary>
    public static GuestSource FromImage(string path) => new(null, path);

    /// <inheritdoc/>
    public override string ToString() => BuiltIn is not null ? $"builtin:{BuiltIn}" : ImagePath ?? KernelPath ?? (Image is not null ? "(in-memory image)" : "(none)");
}

/// <summary>
/// One TDX module actor for the TD, or one per vCPU: the module as the hardware runs it, on the logical CPU of the
/// vCPU that entered it, every instance over the same TD-scope state under the module's own locking.
/// </summary>
public enum ModuleTopology
{
    /// <summary>A single module actor (<c>tdx-module</c>) serves every vCPU.</summary>
    Single,

    /// <summary>One module actor per vCPU (<c>tdx-module/N</c>), as the hardware has it.</summary>
    PerVcpu,
}

/// <summary>One VMM or one per vCPU (contract section 4).</summary>
public enum VmmTopology
{
    /// <summary>A single VMM actor serves every vCPU.</summary>
    Single,

    /// <summary>One VMM actor per vCPU, sharing the device bus (per-device locks).</summary>
    PerVcpu,
}

/// <summary>What the VMM does with TDG.VP.VMCALL&lt;ReportFatalError&gt;.</summary>
public enum FatalErrorPolicy
{
    /// <summary>Stop the TD: exit status 4 (what QEMU does).</summary>
    Stop,

    /// <summary>Record it and resume the guest (the KVM selftest's host does this).</summary>
    Resume,
}

/// <summary>Access of an MSR the VMM emulates.</summary>
public enum MsrAccess
{
    /// <summary>Readable and writable.</summary>
    ReadWrite,

    /// <summary>Reads succeed, writes get INVALID_OPERAND.</summary>
    ReadOnly,

    /// <summary>Writes succeed, reads get INVALID_OPERAND.</summary>
    WriteOnly,
}

/// <summary>One MSR of the VMM's MSR table, as a scenario states it.</summary>
public sealed record MsrRule(uint Index, MsrAccess Access, ulong Value);

/// <summary>A hostile VMM as a scenario states it.</summary>
/// <param name="Seed">Seed of the fault decisions; null: the run's <see cref="Scenario.Seed"/>, so a sweep over seeds
/// sweeps the faults too.</param>
/// <param name="Faults">The kinds it may inject.</param>
/// <param name="Rate">Probability, 0 to 1, that an eligible request gets a fault.</param>
public sealed record HostileVmmSettings(ulong? Seed, Abi.Faults.HostFaultSet Faults, double Rate)
{
    /// <summary>Every kind at the default rate.</summary>
    public static HostileVmmSettings Default { get; } = new(null, Abi.Faults.HostFaultSet.All, Abi.Faults.HostileVmmPlan.DefaultRate);
}

/// <summary>VMM behaviour knobs a scenario may set.</summary>
public sealed record VmmSettings
{
    /// <summary>Return RETRY after each 2 MiB chunk of MapGPA, as KVM does when an event is pending.</summary>
    public bool MapGpaRetry { get; init; }

    /// <summary>What ReportFatalError does.</summary>
    public FatalErrorPolicy OnFatalError { get; init; } = FatalErrorPolicy.Stop;

    /// <summary>Wake a vCPU halted with interrupts enabled after this many nanoseconds (null: never).</summary>
    public ulong? HltWakeNs { get; init; }

    /// <summary>When true, MSRs not listed in <see cref="Msrs"/> get INVALID_OPERAND (a KVM MSR filter with default deny).</summary>
    public bool MsrDefaultDeny { get; init; }

    /// <summary>MSRs the scenario adds or overrides.</summary>
    public IReadOnlyList<MsrRule> Msrs { get; init; } = [];

    /// <summary>Virtual delay before a GetQuote request completes.</summary>
    public ulong QuoteDelayNs { get; init; } = 1_000_000;
}

/// <summary>
/// Everything that defines a run: the guest, the machine shape and the knobs of contract section 2.
/// A scenario file provides it; command-line options override it.
/// </summary>
public sealed record Scenario
{
    /// <summary>The default private memory size (contract section 2).</summary>
    public const ulong DefaultMemory = 64UL << 20;

    /// <summary>Default <see cref="ReplyTimeoutMs"/>: far beyond any reply on a loaded machine (they take microseconds).</summary>
    public const ulong DefaultReplyTimeoutMs = 10_000;

    /// <summary>The default load address of a flat image.</summary>
    public const ulong DefaultLoadAddress = 0x10_0000;

    /// <summary>Most vCPUs a TD may have here.</summary>
    public const int MaxVcpus = 256;

    /// <summary>Scenario name (file name without extension by default).</summary>
    public string Name { get; init; } = "unnamed";

    /// <summary>One line saying what the scenario shows.</summary>
    public string? Description { get; init; }

    /// <summary>The guest code.</summary>
    public GuestSource Guest { get; init; } = GuestSource.FromBuiltIn("smp-hello");

    /// <summary>Load address of a flat image.</summary>
    public ulong Load { get; init; } = DefaultLoadAddress;

    /// <summary>The Linux kernel command line (<c>--append</c>, scenario key <c>append</c>).</summary>
    public string Append { get; init; } = string.Empty;

    /// <summary>An initial ramdisk for a Linux kernel (<c>--initrd</c>, scenario key <c>initrd</c>), or null.</summary>
    public string? InitrdPath { get; init; }

    /// <summary>Entry point (null: ELF e_entry or the load address).</summary>
    public ulong? Entry { get; init; }

    /// <summary>Number of vCPUs.</summary>
    public int Vcpus { get; init; } = 1;

    /// <summary>Private memory size in bytes.</summary>
    public ulong Memory { get; init; } = DefaultMemory;

    /// <summary>Leave private memory pending at start: the guest kernel accepts pages on their #VE.</summary>
    public bool LazyAccept { get; init; }

    /// <summary>Unroll INS/OUTS in the #VE handler instead of treating them as fatal.</summary>
    public bool UnrollStringIo { get; init; }

    /// <summary>Per-vCPU instruction limit (null: none).</summary>
    public ulong? MaxInstructions { get; init; }

    /// <summary>Wall-clock limit in milliseconds, or virtual nanoseconds/1e6 in deterministic mode (null: none).</summary>
    public ulong? TimeLimitMs { get; init; }

    /// <summary>
    /// How long a vCPU may wait for the reply to a TDCALL or a TD exit before the run ends as an internal error
    /// (status 8: the emulator lost the reply), in wall-clock milliseconds; 0 turns the watchdog off. Halted vCPUs are
    /// never counted as waiting. Not used under the deterministic dispatcher, which reports a lost reply by going idle.
    /// </summary>
    public ulong ReplyTimeoutMs { get; init; } = DefaultReplyTimeoutMs;

    /// <summary>Seed for every random choice.</summary>
    public ulong Seed { get; init; }

    /// <summary>Single-threaded seeded scheduler on virtual time.</summary>
    public bool Deterministic { get; init; }

    /// <summary>
    /// Deterministic runs: park a vCPU spinning in a pure pause loop until what it reads changes, instead of
    /// interpreting every turn (VcpuActor.Spin.cs). On by default; off to compare.
    /// </summary>
    public bool SpinFastForward { get; init; } = true;

    /// <summary>One VMM or one per vCPU.</summary>
    public VmmTopology Vmm { get; init; } = VmmTopology.Single;

    /// <summary>One TDX module actor or one per vCPU.</summary>
    public ModuleTopology Module { get; init; } = ModuleTopology.Single;

    /// <summary>TD ATTRIBUTES (TdxSim.Abi.TdAttributes bits).</summary>
    public ulong TdAttributes { get; init; }

    /// <summary>VMM behaviour.</summary>
    public VmmSettings VmmSettings { get; init; } = new();

    /// <summary>A hostile VMM (contract section 10: <c>--hostile-vmm SEED</c>, scenario key <c>hostile_vmm</c>), or null.</summary>
    public HostileVmmSettings? HostileVmm { get; init; }

    /// <summary>
    /// The VM type the host kernel (the machine) enforces on the VMM's host API calls (seed 004): a TD by default; a
    /// test may run the same guest as a legacy or SEV-ES VM to see which calls reach the vCPUs.
    /// </summary>
    public Abi.HostApi.VmType VmType { get; init; } = Abi.HostApi.VmType.Tdx;

    /// <summary>The longest a hostile run waits for a reply (wall clock) before it ends as a reply timeout (status 6).</summary>
    public const ulong HostileReplyTimeoutMs = 2_000;

    /// <summary>
    /// The same under the deterministic dispatcher, in virtual milliseconds: virtual time moves with the cost model, so
    /// a vCPU spinning on a lock that a vCPU stuck without its reply holds takes about half a second of machine time for 5 ms.
    /// </summary>
    public const ulong HostileDeterministicReplyTimeoutMs = 5;

    /// <summary>Message log path (JSON Lines), or null.</summary>
    public string? LogPath { get; init; }

    /// <summary>Trace path (Chrome trace JSON), or null.</summary>
    public string? TracePath { get; init; }

    /// <summary>Final-state JSON path, or null.</summary>
    public string? DumpStatePath { get; init; }

    /// <summary>Virtual-time costs under the deterministic dispatcher.</summary>
    public CostModelSettings Costs { get; init; } = new();

    /// <summary>No summary on stderr.</summary>
    public bool Quiet { get; init; }

    /// <summary>
    /// The user's Akka.NET configuration (HOCON), laid over TdxSim's embedded default: the scenario key <c>akka</c>
    /// or <c>tdxsim run --akka-config FILE</c>. Null for the default.
    /// </summary>
    public Akka.Configuration.Config? AkkaConfig { get; init; }
}
