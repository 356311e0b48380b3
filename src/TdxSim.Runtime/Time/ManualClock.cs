namespace TdxSim.Runtime.Time;

/// <summary>A clock that moves only when told to: for driving the message log and its sinks without an actor system.</summary>
public sealed class ManualClock : IClock
{
    private long _now;

    /// <summary>Starts at <paramref name="startNanoseconds"/>.</summary>
    public ManualClock(long startNanoseconds = 0)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(startNanoseconds);
        _now = startNanoseconds;
    }

    /// <inheritdoc/>
    public long NowNanoseconds => Volatile.Read(ref _now);

    /// <summary>Moves the clock forward.</summary>
    public void AdvanceBy(long nanoseconds)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(nanoseconds);
        Interlocked.Add(ref _now, nanoseconds);
    }
}
