using TdxSim.Abi;
using TdxSim.Abi.Messages;

namespace TdxSim.Machine.Logging.Pairing;

/// <summary>The TDX protocol messages the pairing engine understands; everything else is <see cref="Other"/>.</summary>
public enum HopKind : byte
{
    /// <summary>Any other message (machine control, halts, stop requests, non-TDX messages).</summary>
    Other,

    /// <summary>vCPU → TDX module: <see cref="TdcallRequested"/>.</summary>
    TdcallRequested,

    /// <summary>TDX module → vCPU: <see cref="TdcallCompleted"/>.</summary>
    TdcallCompleted,

    /// <summary>vCPU → TDX module: <see cref="TdExited"/>.</summary>
    TdExited,

    /// <summary>TDX module → vCPU: <see cref="TdEntered"/>.</summary>
    TdEntered,

    /// <summary>TDX module → VMM: <see cref="TdVmcallRequested"/>.</summary>
    TdVmcallRequested,

    /// <summary>VMM → TDX module: <see cref="TdVmcallCompleted"/>.</summary>
    TdVmcallCompleted,
}

/// <summary>Which component receives a hop.</summary>
public enum HopTarget : byte
{
    /// <summary>Not a protocol hop.</summary>
    Other,

    /// <summary>The vCPU.</summary>
    Vcpu,

    /// <summary>The TDX module.</summary>
    TdxModule,

    /// <summary>The VMM.</summary>
    Vmm,
}

/// <summary>
/// One delivered message as the pairing engine sees it, built either from a live <see cref="MessageRecord"/>
/// or from a parsed log line (<see cref="Reading.LogEntry"/>), so the trace writer and <c>tdxsim inspect</c>
/// pair messages by exactly the same rules.
/// </summary>
public readonly struct Hop
{
    private readonly Gprs _registers;

    /// <summary>Creates a hop.</summary>
    public Hop(
        long seq,
        long deliveredNs,
        long sentNs,
        int vcpu,
        long corr,
        HopKind kind,
        string type,
        string? from,
        string? to,
        string? leaf,
        string? subfn,
        string? reason,
        ulong? status,
        ushort registerMask,
        in Gprs registers,
        TdEntryAction? entryAction = null)
    {
        Seq = seq;
        DeliveredNs = deliveredNs;
        SentNs = sentNs;
        Vcpu = vcpu;
        Corr = corr;
        Kind = kind;
        Type = type;
        From = from;
        To = to;
        Leaf = leaf;
        Subfn = subfn;
        Reason = reason;
        Status = status;
        RegisterMask = registerMask;
        _registers = registers;
        EntryAction = entryAction;
    }

    /// <summary>Global delivery order.</summary>
    public long Seq { get; }

    /// <summary>Delivery time (the log's <c>t_ns</c>).</summary>
    public long DeliveredNs { get; }

    /// <summary>Send time when known (live recording), otherwise -1.</summary>
    public long SentNs { get; }

    /// <summary>The vCPU, or -1 when the message concerns none.</summary>
    public int Vcpu { get; }

    /// <summary>Correlation id.</summary>
    public long Corr { get; }

    /// <summary>The protocol message kind.</summary>
    public HopKind Kind { get; }

    /// <summary>The message type name.</summary>
    public string Type { get; }

    /// <summary>Sender name, if any.</summary>
    public string? From { get; }

    /// <summary>Recipient name.</summary>
    public string? To { get; }

    /// <summary>TDCALL leaf name, where it applies.</summary>
    public string? Leaf { get; }

    /// <summary>TDVMCALL sub-function name, where it applies.</summary>
    public string? Subfn { get; }

    /// <summary>Exit reason name, where it applies.</summary>
    public string? Reason { get; }

    /// <summary>Completion status, on replies.</summary>
    public ulong? Status { get; }

    /// <summary>Registers the receiver may see.</summary>
    public ushort RegisterMask { get; }

    /// <summary>How the module resumed the vCPU, for a live <see cref="TdEntered"/>; unknown from a log.</summary>
    public TdEntryAction? EntryAction { get; }

    /// <summary>The component that receives this hop.</summary>
    public HopTarget Target => TargetOf(Kind);

    /// <summary>All registers (only those in <see cref="RegisterMask"/> are meaningful).</summary>
    public Gprs Registers => _registers;

    /// <summary>True when <paramref name="register"/> is visible.</summary>
    public bool HasRegister(Gpr register) => (RegisterMask & (1 << (int)register)) != 0;

    /// <summary>The value of a visible register, or <see langword="null"/>.</summary>
    public ulong? Register(Gpr register) => HasRegister(register) ? _registers[register] : null;

    /// <summary>Which component receives a message of <paramref name="kind"/>.</summary>
    public static HopTarget TargetOf(HopKind kind) => kind switch
    {
        HopKind.TdcallRequested or HopKind.TdExited or HopKind.TdVmcallCompleted => HopTarget.TdxModule,
        HopKind.TdcallCompleted or HopKind.TdEntered => HopTarget.Vcpu,
        HopKind.TdVmcallRequested => HopTarget.Vmm,
        _ => HopTarget.Other,
    };

    /// <summary>The kind of a message type name as the log writes it.</summary>
    public static HopKind KindOf(string typeName) => typeName switch
    {
        nameof(TdcallRequested) => HopKind.TdcallRequested,
        nameof(TdcallCompleted) => HopKind.TdcallCompleted,
        nameof(TdExited) => HopKind.TdExited,
        nameof(TdEntered) => HopKind.TdEntered,
        nameof(TdVmcallRequested) => HopKind.TdVmcallRequested,
        nameof(TdVmcallCompleted) => HopKind.TdVmcallCompleted,
        _ => HopKind.Other,
    };

    /// <summary>Builds a hop from a live record (no allocation).</summary>
    public static Hop FromRecord(in MessageRecord record)
    {
        object message = record.Message;
        HopKind kind = message switch
        {
            TdcallRequested => HopKind.TdcallRequested,
            TdcallCompleted => HopKind.TdcallCompleted,
            TdExited => HopKind.TdExited,
            TdEntered => HopKind.TdEntered,
            TdVmcallRequested => HopKind.TdVmcallRequested,
            TdVmcallCompleted => HopKind.TdVmcallCompleted,
            _ => HopKind.Other,
        };

        string type = message.GetType().Name;
        if (message is not ITdxMessage tdx)
        {
            Gprs none = default;
            return new Hop(record.Seq, record.TimeNs, record.SentAtNs, -1, record.CorrelationId, kind, type, record.From?.Name, record.To.Name, null, null, null, null, 0, in none);
        }

        Gprs registers = tdx.Registers;
        return new Hop(
            record.Seq,
            record.TimeNs,
            record.SentAtNs,
            tdx.Vcpu < 0 ? -1 : tdx.Vcpu,
            record.CorrelationId,
            kind,
            type,
            record.From?.Name,
            record.To.Name,
            tdx.Leaf,
            tdx.Subfn,
            tdx.Reason,
            tdx.Status,
            tdx.VisibleRegisters,
            in registers,
            (message as TdEntered)?.Action);
    }
}
