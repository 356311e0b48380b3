using TdxSim.Abi;
using TdxSim.Machine.Logging.Pairing;

namespace TdxSim.Machine.Logging.Reading;

/// <summary>One line of a message log read back (contract section 6), with the line it came from.</summary>
public sealed class LogEntry
{
    private Gprs _registers;

    /// <summary>1-based line number in the file.</summary>
    public required int LineNumber { get; init; }

    /// <summary><c>seq</c>.</summary>
    public required long Seq { get; init; }

    /// <summary><c>t_ns</c>.</summary>
    public required long TimeNs { get; init; }

    /// <summary><c>vcpu</c>, or <see langword="null"/>.</summary>
    public int? Vcpu { get; init; }

    /// <summary><c>from</c>, or <see langword="null"/> for a message sent without a sender.</summary>
    public string? From { get; init; }

    /// <summary><c>to</c>.</summary>
    public required string To { get; init; }

    /// <summary><c>type</c>.</summary>
    public required string Type { get; init; }

    /// <summary><c>leaf</c>, where present.</summary>
    public string? Leaf { get; init; }

    /// <summary><c>subfn</c>, where present.</summary>
    public string? Subfn { get; init; }

    /// <summary><c>reason</c>, where present.</summary>
    public string? Reason { get; init; }

    /// <summary><c>corr</c>.</summary>
    public required long Corr { get; init; }

    /// <summary><c>status</c>, where present.</summary>
    public ulong? Status { get; init; }

    /// <summary><c>wait_ns</c> (from the send to the handling's start), where present.</summary>
    public long? WaitNs { get; init; }

    /// <summary><c>service_ns</c> (how long the handler ran), where present.</summary>
    public long? ServiceNs { get; init; }

    /// <summary>Which registers <c>regs</c> holds (bit n = <see cref="Gpr"/> n).</summary>
    public ushort RegisterMask { get; init; }

    /// <summary>The register values of <c>regs</c> (zero where not present).</summary>
    public Gprs Registers
    {
        get => _registers;
        init => _registers = value;
    }

    /// <summary>The value of register <paramref name="register"/> when present in <c>regs</c>.</summary>
    public ulong? Register(Gpr register) => (RegisterMask & (1 << (int)register)) != 0 ? _registers[register] : null;

    /// <summary>The entry as the pairing engine sees it (send time from <c>wait_ns</c> when present, else unknown).</summary>
    public Hop ToHop() => new(
        Seq,
        TimeNs,
        WaitNs is long wait ? TimeNs - wait : -1,
        Vcpu ?? -1,
        Corr,
        Hop.KindOf(Type),
        Type,
        From,
        To,
        Leaf,
        Subfn,
        Reason,
        Status,
        RegisterMask,
        in _registers);
}
