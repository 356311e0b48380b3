using TdxSim.Actors.Internal;

namespace TdxSim.Actors.Scheduling;

/// <summary>
/// Fires timers in simulated time (Akka's <c>TestScheduler</c>): nothing is delivered until the clock is
/// advanced with <see cref="Advance"/> / <see cref="AdvanceTo"/> or by the deterministic dispatcher, which
/// jumps to <see cref="NextDueNanoseconds"/> whenever no actor is runnable. Entries due at the same instant
/// fire in scheduling order, and each fires with the clock set to its own due time.
/// </summary>
public sealed class VirtualTimeScheduler : IScheduler, ICallbackScheduler
{
    private readonly TimerQueue _queue = new();
    private readonly VirtualClock _clock;

    /// <summary>Creates a scheduler over <paramref name="clock"/>.</summary>
    public VirtualTimeScheduler(VirtualClock clock)
    {
        ArgumentNullException.ThrowIfNull(clock);
        _clock = clock;
    }

    /// <inheritdoc />
    public IClock Clock => _clock;

    /// <summary>The simulated clock, for callers that advance it.</summary>
    public VirtualClock VirtualClock => _clock;

    /// <summary>Due time of the earliest pending timer, or null when none is pending.</summary>
    public long? NextDueNanoseconds => _queue.PeekDue();

    /// <summary>Invoked after a timer is added (the dedicated deterministic loop uses it to wake up).</summary>
    internal Action? TimerAdded { get; set; }

    /// <inheritdoc />
    public ICancelable ScheduleTellOnce(TimeSpan delay, IActorRef receiver, object message, IActorRef? sender)
    {
        long d = SchedulerValidation.Delay(delay, nameof(delay));
        SchedulerValidation.Target(receiver, message);
        return Add(new TimerEntry(_queue, SchedulerValidation.Due(_clock.NowNanoseconds, d), 0, receiver, message, sender, ActorCell.CurrentCorrelationId));
    }

    /// <inheritdoc />
    public ICancelable ScheduleTellRepeatedly(TimeSpan initialDelay, TimeSpan interval, IActorRef receiver, object message, IActorRef? sender)
    {
        long d = SchedulerValidation.Delay(initialDelay, nameof(initialDelay));
        long i = SchedulerValidation.Interval(interval, nameof(interval));
        SchedulerValidation.Target(receiver, message);
        return Add(new TimerEntry(_queue, SchedulerValidation.Due(_clock.NowNanoseconds, d), i, receiver, message, sender, ActorCell.CurrentCorrelationId));
    }

    /// <summary>Advances the clock by <paramref name="duration"/>, firing every timer that falls due on the way.</summary>
    public void Advance(TimeSpan duration)
    {
        if (duration < TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(duration), duration, "Virtual time cannot move backwards: the duration must be zero or positive.");
        }

        AdvanceTo(SchedulerValidation.Due(_clock.NowNanoseconds, TimeUnits.ToNanoseconds(duration)));
    }

    /// <summary>Advances the clock to <paramref name="nanoseconds"/>, firing due timers in order, each at its own due time.</summary>
    public void AdvanceTo(long nanoseconds)
    {
        if (nanoseconds < _clock.NowNanoseconds)
        {
            throw new ArgumentOutOfRangeException(nameof(nanoseconds), nanoseconds, $"Virtual time cannot move backwards: the clock already reads {_clock.NowNanoseconds} ns.");
        }

        while (_queue.TryTakeDue(nanoseconds, out TimerEntry entry))
        {
            if (entry.Due > _clock.NowNanoseconds)
            {
                _clock.AdvanceTo(entry.Due);
            }

            FireAndRequeue(entry);
        }

        _clock.AdvanceTo(nanoseconds);
    }

    /// <summary>Fires every timer due at or before the current reading; returns how many fired.</summary>
    internal int FireDue()
    {
        int fired = 0;
        long now = _clock.NowNanoseconds;
        while (_queue.TryTakeDue(now, out TimerEntry entry))
        {
            FireAndRequeue(entry);
            fired++;
        }

        return fired;
    }

    ICancelable ICallbackScheduler.ScheduleCallback(long delayNanoseconds, Action<object?> callback, object? state) =>
        Add(new TimerEntry(_queue, SchedulerValidation.Due(_clock.NowNanoseconds, delayNanoseconds), callback, state));

    /// <summary>Forgets pending timers; later scheduling throws.</summary>
    void ICallbackScheduler.Shutdown()
    {
        foreach (TimerEntry entry in _queue.Close())
        {
            entry.Abandon();
        }
    }

    private TimerEntry Add(TimerEntry entry)
    {
        _queue.Add(entry);
        TimerAdded?.Invoke();
        return entry;
    }

    private void FireAndRequeue(TimerEntry entry)
    {
        entry.Fire();
        if (entry.Interval > 0 && !entry.IsCancellationRequested)
        {
            entry.Due = SchedulerValidation.Due(entry.Due, entry.Interval);
            try
            {
                _queue.Add(entry);
            }
            catch (InvalidOperationException)
            {
                // The system terminated while the timer fired.
            }
        }
    }
}
