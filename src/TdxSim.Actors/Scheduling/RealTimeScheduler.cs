using TdxSim.Actors.Internal;

namespace TdxSim.Actors.Scheduling;

/// <summary>
/// Fires timers in real time: one <see cref="Timer"/> per scheduler, always armed for the earliest entry of
/// a shared heap, so a thousand pending timeouts cost one OS timer. Resolution is that of the .NET timer
/// (about a millisecond); delivery happens on a thread-pool thread.
/// </summary>
public sealed class RealTimeScheduler : IScheduler, ICallbackScheduler, IDisposable
{
    private readonly TimerQueue _queue = new();
    private readonly Timer _timer;
    private readonly IClock _clock;
    private int _firing;

    /// <summary>Creates a scheduler measuring delays with <paramref name="clock"/> (a real, monotonic clock).</summary>
    public RealTimeScheduler(IClock clock)
    {
        ArgumentNullException.ThrowIfNull(clock);
        _clock = clock;
        _timer = new Timer(static s => ((RealTimeScheduler)s!).OnTimer(), this, Timeout.Infinite, Timeout.Infinite);
    }

    /// <inheritdoc />
    public IClock Clock => _clock;

    /// <inheritdoc />
    public ICancelable ScheduleTellOnce(TimeSpan delay, IActorRef receiver, object message, IActorRef? sender)
    {
        long d = SchedulerValidation.Delay(delay, nameof(delay));
        SchedulerValidation.Target(receiver, message);
        var entry = new TimerEntry(_queue, SchedulerValidation.Due(_clock.NowNanoseconds, d), 0, receiver, message, sender, ActorCell.CurrentCorrelationId);
        Add(entry);
        return entry;
    }

    /// <inheritdoc />
    public ICancelable ScheduleTellRepeatedly(TimeSpan initialDelay, TimeSpan interval, IActorRef receiver, object message, IActorRef? sender)
    {
        long d = SchedulerValidation.Delay(initialDelay, nameof(initialDelay));
        long i = SchedulerValidation.Interval(interval, nameof(interval));
        SchedulerValidation.Target(receiver, message);
        var entry = new TimerEntry(_queue, SchedulerValidation.Due(_clock.NowNanoseconds, d), i, receiver, message, sender, ActorCell.CurrentCorrelationId);
        Add(entry);
        return entry;
    }

    /// <summary>Stops the timer and forgets pending entries; later scheduling throws.</summary>
    public void Dispose()
    {
        List<TimerEntry> abandoned = _queue.Close();
        _timer.Dispose();
        foreach (TimerEntry entry in abandoned)
        {
            entry.Abandon();
        }
    }

    void ICallbackScheduler.Shutdown() => Dispose();

    ICancelable ICallbackScheduler.ScheduleCallback(long delayNanoseconds, Action<object?> callback, object? state)
    {
        var entry = new TimerEntry(_queue, SchedulerValidation.Due(_clock.NowNanoseconds, delayNanoseconds), callback, state);
        Add(entry);
        return entry;
    }

    private void Add(TimerEntry entry)
    {
        if (_queue.Add(entry))
        {
            Arm(entry.Due);
        }
    }

    private void Arm(long due)
    {
        long delay = due - _clock.NowNanoseconds;
        // Round up so the timer never fires early; clamp to the range Timer accepts.
        long ms = delay <= 0 ? 0 : Math.Min((delay + 999_999) / 1_000_000, uint.MaxValue - 2L);
        try
        {
            _timer.Change(ms, Timeout.Infinite);
        }
        catch (ObjectDisposedException)
        {
            // Shut down concurrently: nothing left to fire.
        }
    }

    private void OnTimer()
    {
        // One firing pass at a time keeps repeated entries from overtaking each other.
        if (Interlocked.Exchange(ref _firing, 1) != 0)
        {
            return;
        }

        try
        {
            long now = _clock.NowNanoseconds;
            while (_queue.TryTakeDue(now, out TimerEntry entry))
            {
                entry.Fire();
                if (entry.Interval > 0 && !entry.IsCancellationRequested)
                {
                    long next = entry.Due + entry.Interval;
                    // After a stall, continue from now rather than firing a burst of catch-up messages.
                    entry.Due = next < now ? now + entry.Interval : next;
                    try
                    {
                        _queue.Add(entry);
                    }
                    catch (InvalidOperationException)
                    {
                        return;
                    }
                }
            }
        }
        finally
        {
            Volatile.Write(ref _firing, 0);
        }

        long? head = _queue.PeekDue();
        if (head is long due)
        {
            Arm(due);
        }
    }
}
