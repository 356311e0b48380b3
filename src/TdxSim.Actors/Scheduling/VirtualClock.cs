namespace TdxSim.Actors.Scheduling;

/// <summary>
/// Simulated time: it only moves when told to. The deterministic dispatcher advances it to the next timer
/// when nothing is runnable and by the per-message cost of its <see cref="Dispatch.IMessageCostModel"/>;
/// tests may advance it directly. Reads and writes are thread-safe; time never goes backwards.
/// </summary>
public sealed class VirtualClock : IClock
{
    private long _now;

    /// <summary>Creates a clock reading <paramref name="startNanoseconds"/> (default 0, as FoundationDB's simulator starts).</summary>
    public VirtualClock(long startNanoseconds = 0)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(startNanoseconds);
        _now = startNanoseconds;
    }

    /// <inheritdoc />
    public long NowNanoseconds => Volatile.Read(ref _now);

    /// <summary>Moves the clock forward by <paramref name="duration"/> (zero or positive).</summary>
    public void Advance(TimeSpan duration)
    {
        if (duration < TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(duration), duration, "Virtual time cannot move backwards: the duration must be zero or positive.");
        }

        AdvanceBy(TimeUnits.ToNanoseconds(duration));
    }

    /// <summary>Moves the clock forward by <paramref name="nanoseconds"/> (zero or positive).</summary>
    public void AdvanceBy(long nanoseconds)
    {
        if (nanoseconds < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(nanoseconds), nanoseconds, "Virtual time cannot move backwards: the amount must be zero or positive.");
        }

        Interlocked.Add(ref _now, nanoseconds);
    }

    /// <summary>Sets the clock to <paramref name="nanoseconds"/>, which must not be earlier than the current reading.</summary>
    public void AdvanceTo(long nanoseconds)
    {
        while (true)
        {
            long now = Volatile.Read(ref _now);
            if (nanoseconds < now)
            {
                throw new ArgumentOutOfRangeException(nameof(nanoseconds), nanoseconds, $"Virtual time cannot move backwards: the clock already reads {now} ns.");
            }

            if (Interlocked.CompareExchange(ref _now, nanoseconds, now) == now)
            {
                return;
            }
        }
    }
}
