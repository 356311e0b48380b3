namespace TdxSim.Machine.Logging.Pairing;

/// <summary>The kinds of timed event derived from a request.</summary>
public enum TdxEventKind
{
    /// <summary>
    /// A TDCALL: from the <c>TdcallRequested</c> delivered to the TDX module to the <c>TdcallCompleted</c> delivered
    /// back to the vCPU. Includes TDCALLs of the guest kernel's #VE handler (<see cref="TdxEvent.IsNested"/>).
    /// </summary>
    Tdcall,

    /// <summary>A TDVMCALL: from the <c>TdVmcallRequested</c> delivered to the VMM to the <c>TdVmcallCompleted</c> delivered back to the module.</summary>
    Tdvmcall,

    /// <summary>A TD exit: from the <c>TdExited</c> delivered to the module to the last message of that request delivered to the vCPU.</summary>
    Exit,
}

/// <summary>How a port or MMIO access moved data, decoded from R13 of the TDVMCALL (GHCI).</summary>
public enum DeviceAccess
{
    /// <summary>Not known (R13 not visible).</summary>
    Unknown,

    /// <summary>Port input (Instruction.IO, R13 = 0).</summary>
    In,

    /// <summary>Port output (Instruction.IO, R13 = 1).</summary>
    Out,

    /// <summary>MMIO read (#VE.RequestMMIO, R13 = 0).</summary>
    Read,

    /// <summary>MMIO write (#VE.RequestMMIO, R13 = 1).</summary>
    Write,
}

/// <summary>
/// One timed event (TDCALL, TDVMCALL or TD exit) with the attributes <c>tdxsim inspect</c> groups by. Times are
/// delivery to delivery (the log's <c>t_ns</c>), so the same event has the same duration whether computed live
/// or from a log file.
/// </summary>
public readonly record struct TdxEvent
{
    /// <summary>The kind.</summary>
    public required TdxEventKind Kind { get; init; }

    /// <summary>The vCPU.</summary>
    public required int Vcpu { get; init; }

    /// <summary>The correlation id.</summary>
    public required long Corr { get; init; }

    /// <summary>Start (delivery of the first message).</summary>
    public required long StartNs { get; init; }

    /// <summary>End (delivery of the reply); for an incomplete event the last time observed.</summary>
    public required long EndNs { get; init; }

    /// <summary>False when the reply never came (the run or log ended mid-request).</summary>
    public required bool IsComplete { get; init; }

    /// <summary>A TDCALL made by the guest kernel's #VE handler rather than by guest code.</summary>
    public bool IsNested { get; init; }

    /// <summary>TDCALL leaf name (TDCALL, TDVMCALL).</summary>
    public string? Leaf { get; init; }

    /// <summary>TDVMCALL sub-function name (TDVMCALL; TDCALL of TDG.VP.VMCALL).</summary>
    public string? Subfn { get; init; }

    /// <summary>Exit reason (exits).</summary>
    public string? Reason { get; init; }

    /// <summary>Completion status of the reply, where it has one.</summary>
    public ulong? Status { get; init; }

    /// <summary>Port of an Instruction.IO TDVMCALL (R14).</summary>
    public ushort? Port { get; init; }

    /// <summary>GPA of a #VE.RequestMMIO TDVMCALL (R14), or of the EPT violation behind it (VE info GPA, R9 of TDG.VP.VEINFO.GET).</summary>
    public ulong? Gpa { get; init; }

    /// <summary>Direction of a port or MMIO access.</summary>
    public DeviceAccess Access { get; init; }

    /// <summary>Access size in bytes (R12), when visible.</summary>
    public int? Size { get; init; }

    /// <summary>Value written (R15 of an output or MMIO write), when visible.</summary>
    public ulong? Value { get; init; }

    /// <summary>Sequence number of the first message.</summary>
    public required long FirstSeq { get; init; }

    /// <summary>Index of the first hop within the request.</summary>
    public required int FirstHop { get; init; }

    /// <summary>Index of the closing hop within the request, or -1 when incomplete.</summary>
    public required int LastHop { get; init; }

    /// <summary>Duration in nanoseconds.</summary>
    public long DurationNs => EndNs - StartNs;
}
