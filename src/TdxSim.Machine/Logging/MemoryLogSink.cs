namespace TdxSim.Machine.Logging;

/// <summary>Keeps every record in a list, for tests and in-process tools. Read <see cref="Records"/> after completion.</summary>
public sealed class MemoryLogSink : MessageLogSink
{
    private readonly List<MessageRecord> _records = [];

    /// <summary>Creates an empty sink.</summary>
    public MemoryLogSink()
        : base("memory")
    {
    }

    /// <summary>The records received, in delivery order. Only stable once the recorder has completed.</summary>
    public IReadOnlyList<MessageRecord> Records => _records;

    /// <inheritdoc/>
    protected override void WriteRecord(in MessageRecord record) => _records.Add(record);
}

/// <summary>
/// Counts records (in total and per message type) without storing them: what <c>tdxsim stress</c> reports as
/// <c>messages</c>. The counts are safe to read from any thread while the run goes on.
/// </summary>
public sealed class CountingLogSink : MessageLogSink
{
    private readonly Dictionary<Type, long> _byType = [];
    private readonly Lock _byTypeGate = new();
    private long _count;

    /// <summary>Creates a counter.</summary>
    public CountingLogSink()
        : base("counter")
    {
    }

    /// <summary>Records seen.</summary>
    public long Count => Interlocked.Read(ref _count);

    /// <summary>A snapshot of the per-type counts, keyed by the type's name.</summary>
    public IReadOnlyDictionary<string, long> CountsByType
    {
        get
        {
            lock (_byTypeGate)
            {
                return _byType.ToDictionary(p => p.Key.Name, p => p.Value, StringComparer.Ordinal);
            }
        }
    }

    /// <inheritdoc/>
    protected override void WriteRecord(in MessageRecord record)
    {
        Interlocked.Increment(ref _count);
        Type type = record.Message.GetType();
        lock (_byTypeGate)
        {
            _byType[type] = _byType.TryGetValue(type, out long n) ? n + 1 : 1;
        }
    }
}
