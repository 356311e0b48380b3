using Akka.Actor;
using Akka.Configuration;
using Akka.Dispatch;
using Akka.Event;
using TdxSim.Runtime.Time;

namespace TdxSim.Runtime.Deterministic;

/// <summary>
/// An Akka scheduler on virtual time (<c>akka.scheduler.implementation</c>), in the shape of Akka.TestKit's
/// <c>TestScheduler</c>: nothing fires by itself; time moves only when the <see cref="DeterministicDispatcher"/>'s loop
/// (or a test) advances it, by a handler's cost (<see cref="AdvanceBy"/>) or to the next timer (<see cref="FireNext"/>).
/// Timers due at the same instant fire in the order they were scheduled, so a seed fixes the whole run.
/// </summary>
public sealed class VirtualTimeScheduler : SchedulerBase, IClock, IDateTimeOffsetNowTimeProvider
{
    private static readonly DateTimeOffset Epoch = new(2000, 1, 1, 0, 0, 0, TimeSpan.Zero);

    private readonly object _gate = new();
    private readonly PriorityQueue<Timer, (long Due, long Seq)> _timers = new();
    private long _now;
    private long _seq;

    /// <summary>Created by Akka from <c>akka.scheduler</c>.</summary>
    public VirtualTimeScheduler(Config scheduler, ILoggingAdapter log)
        : base(scheduler, log)
    {
    }

    /// <summary>Virtual nanoseconds since the system started.</summary>
    public long NowNanoseconds => Volatile.Read(ref _now);

    /// <summary>Timers not yet fired or cancelled.</summary>
    public int PendingTimers
    {
        get
        {
            lock (_gate)
            {
                return _timers.Count;
            }
        }
    }

    /// <inheritdoc/>
    protected override DateTimeOffset TimeNow => Epoch.AddTicks(NowNanoseconds / 100);

    /// <inheritdoc/>
    public override TimeSpan MonotonicClock => TimeSpan.FromTicks(NowNanoseconds / 100);

    /// <inheritdoc/>
    public override TimeSpan HighResMonotonicClock => MonotonicClock;

    /// <summary>Moves time forward by <paramref name="nanoseconds"/> (a handler's cost); fires nothing.</summary>
    public void AdvanceBy(long nanoseconds)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(nanoseconds);
        Interlocked.Add(ref _now, nanoseconds);
    }

    /// <summary>
    /// Moves time forward to <paramref name="nanoseconds"/> (the start of the next handling in the discrete-event
    /// simulation); never backward; fires nothing.
    /// </summary>
    public void AdvanceTo(long nanoseconds)
    {
        if (nanoseconds > Volatile.Read(ref _now))
        {
            Volatile.Write(ref _now, nanoseconds);
        }
    }

    /// <summary>When the earliest pending timer is due, or null when none is.</summary>
    public long? NextDue
    {
        get
        {
            lock (_gate)
            {
                DropCancelled();
                return _timers.TryPeek(out _, out (long Due, long Seq) key) ? key.Due : null;
            }
        }
    }

    /// <summary>
    /// The time a timer scheduled now counts its delay from: the local time of the handler that schedules it (its
    /// start plus what it has spent so far) when the runtime simulates; <see cref="NowNanoseconds"/> otherwise.
    /// </summary>
    internal IClock? Local { get; set; }

    /// <summary>Fires, in order, every timer due at or before now.</summary>
    /// <returns>Whether any fired.</returns>
    public bool FireDue() => FireUntil(NowNanoseconds);

    /// <summary>Moves time to the earliest pending timer (if later) and fires every timer due by then.</summary>
    /// <returns>False when no timer is pending.</returns>
    public bool FireNext()
    {
        long due;
        lock (_gate)
        {
            DropCancelled();
            if (!_timers.TryPeek(out _, out (long Due, long Seq) key))
            {
                return false;
            }

            due = key.Due;
            if (due > _now)
            {
                Volatile.Write(ref _now, due);
            }
        }

        FireUntil(due);
        return true;
    }

    /// <summary>Advances time by <paramref name="duration"/>, firing every timer on the way, in order (tests).</summary>
    public void Advance(TimeSpan duration)
    {
        long target = NowNanoseconds + checked(duration.Ticks * 100);
        while (true)
        {
            lock (_gate)
            {
                DropCancelled();
                if (!_timers.TryPeek(out _, out (long Due, long Seq) key) || key.Due > target)
                {
                    Volatile.Write(ref _now, Math.Max(_now, target));
                    return;
                }
            }

            FireNext();
        }
    }

    private bool FireUntil(long limit)
    {
        bool fired = false;
        while (true)
        {
            Timer timer;
            lock (_gate)
            {
                DropCancelled();
                if (!_timers.TryPeek(out timer!, out (long Due, long Seq) key) || key.Due > limit)
                {
                    return fired;
                }

                _timers.Dequeue();
                if (timer.Interval > 0)
                {
                    _timers.Enqueue(timer, (key.Due + timer.Interval, ++_seq));
                }
            }

            fired = true;
            timer.Action();
        }
    }

    private void DropCancelled()
    {
        while (_timers.TryPeek(out Timer? t, out _) && t.Cancelable is { IsCancellationRequested: true })
        {
            _timers.Dequeue();
        }
    }

    private void Add(TimeSpan delay, TimeSpan interval, Action action, ICancelable? cancelable)
    {
        long delayNs = Math.Max(0, delay.Ticks) * 100;
        long intervalNs = interval.Ticks * 100;
        long from = Local?.NowNanoseconds ?? NowNanoseconds;
        lock (_gate)
        {
            _timers.Enqueue(new Timer(action, intervalNs, cancelable), (Math.Max(from, _now) + delayNs, ++_seq));
        }
    }

    /// <inheritdoc/>
    protected override void InternalScheduleTellOnce(TimeSpan delay, ICanTell receiver, object message, IActorRef sender, ICancelable cancelable)
        => Add(delay, TimeSpan.Zero, () => receiver.Tell(message, sender), cancelable);

    /// <inheritdoc/>
    protected override void InternalScheduleTellRepeatedly(TimeSpan initialDelay, TimeSpan interval, ICanTell receiver, object message, IActorRef sender, ICancelable cancelable)
        => Add(initialDelay, interval, () => receiver.Tell(message, sender), cancelable);

    /// <inheritdoc/>
    protected override void InternalScheduleOnce(TimeSpan delay, Action action, ICancelable cancelable)
        => Add(delay, TimeSpan.Zero, action, cancelable);

    /// <inheritdoc/>
    protected override void InternalScheduleOnce(TimeSpan delay, IRunnable action, ICancelable cancelable)
        => Add(delay, TimeSpan.Zero, action.Run, cancelable);

    /// <inheritdoc/>
    protected override void InternalScheduleRepeatedly(TimeSpan initialDelay, TimeSpan interval, Action action, ICancelable cancelable)
        => Add(initialDelay, interval, action, cancelable);

    /// <inheritdoc/>
    protected override void InternalScheduleRepeatedly(TimeSpan initialDelay, TimeSpan interval, IRunnable action, ICancelable cancelable)
        => Add(initialDelay, interval, action.Run, cancelable);

    private sealed record Timer(Action Action, long Interval, ICancelable? Cancelable);
}
