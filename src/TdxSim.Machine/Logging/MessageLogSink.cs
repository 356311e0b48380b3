namespace TdxSim.Machine.Logging;

/// <summary>
/// Where a <see cref="MessageRecorder"/> sends records: a JSON Lines file, a Chrome trace, a list for tests,
/// a counter. The recorder calls <see cref="Write"/>, <see cref="Flush"/> and <see cref="Complete"/> from its one
/// writer thread, in delivery order, so implementations need no locking.
/// </summary>
/// <remarks>
/// This base class does the loss accounting the contract asks for (section 6: "any loss is counted and
/// reported"). A record is <em>pending</em> once handed to <see cref="WriteRecord"/> and <em>written</em> once a
/// later <see cref="FlushCore"/> succeeds. The first exception from either marks the sink failed: its pending
/// records and every later one are counted as lost, and the exception is kept for the report. A failed sink
/// never stops the recorder or the other sinks.
/// </remarks>
public abstract class MessageLogSink : IDisposable
{
    private long _written;
    private long _lost;
    private long _pending;
    private Exception? _firstError;
    private bool _completed;

    /// <summary>Creates a sink called <paramref name="name"/> in reports (a file path, "memory", ...).</summary>
    protected MessageLogSink(string name)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        Name = name;
    }

    /// <summary>The sink's name in reports.</summary>
    public string Name { get; }

    /// <summary>Pending records after which the recorder flushes even if more are queued.</summary>
    protected int FlushThreshold { get; init; } = 512;

    /// <summary>True once a write or flush failed.</summary>
    public bool HasFailed => _firstError is not null;

    /// <summary>The accounting so far.</summary>
    public SinkReport Report => new(Name, Volatile.Read(ref _written), Volatile.Read(ref _lost), _firstError);

    /// <summary>Hands one record to the sink (writer thread only).</summary>
    public void Write(in MessageRecord record)
    {
        if (_firstError is not null || _completed)
        {
            Volatile.Write(ref _lost, _lost + 1);
            return;
        }

        try
        {
            _pending++;
            WriteRecord(in record);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            Fail(ex);
            return;
        }

        if (_pending >= FlushThreshold)
        {
            Flush();
        }
    }

    /// <summary>Pushes buffered output to its destination (writer thread only).</summary>
    public void Flush()
    {
        if (_firstError is not null || _completed)
        {
            return;
        }

        try
        {
            FlushCore();
            Volatile.Write(ref _written, _written + _pending);
            _pending = 0;
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            Fail(ex);
        }
    }

    /// <summary>Writes whatever ends the output (closing brackets), flushes and releases the destination. Idempotent.</summary>
    public void Complete()
    {
        if (_completed)
        {
            return;
        }

        if (_firstError is null)
        {
            try
            {
                CompleteCore();
                FlushCore();
                Volatile.Write(ref _written, _written + _pending);
                _pending = 0;
            }
            catch (Exception ex) when (ex is not OutOfMemoryException)
            {
                Fail(ex);
            }
        }

        _completed = true;
        Dispose();
    }

    /// <summary>Formats or stores one record; may buffer. Exceptions mark the sink failed.</summary>
    protected abstract void WriteRecord(in MessageRecord record);

    /// <summary>Moves buffered output to the destination. Exceptions mark the sink failed.</summary>
    protected virtual void FlushCore()
    {
    }

    /// <summary>Called once at the end, before the final <see cref="FlushCore"/>, to finish the output.</summary>
    protected virtual void CompleteCore()
    {
    }

    private void Fail(Exception ex)
    {
        _firstError = ex;
        Volatile.Write(ref _lost, _lost + _pending);
        _pending = 0;
    }

    /// <summary>Releases the destination (called by <see cref="Complete"/>).</summary>
    public void Dispose()
    {
        Dispose(true);
        GC.SuppressFinalize(this);
    }

    /// <summary>Releases the destination.</summary>
    protected virtual void Dispose(bool disposing)
    {
    }
}

/// <summary>What one sink did: records written to its destination, records lost and why.</summary>
/// <param name="Name">The sink's name (for files: the path).</param>
/// <param name="Written">Records that reached the destination.</param>
/// <param name="Lost">Records that did not, because of <paramref name="FirstError"/>.</param>
/// <param name="FirstError">The first failure, or <see langword="null"/>.</param>
public sealed record SinkReport(string Name, long Written, long Lost, Exception? FirstError)
{
    /// <inheritdoc/>
    public override string ToString() => FirstError is null
        ? $"{Name}: {Written} records written"
        : $"{Name}: {Written} records written, {Lost} lost ({FirstError.GetType().Name}: {FirstError.Message})";
}
