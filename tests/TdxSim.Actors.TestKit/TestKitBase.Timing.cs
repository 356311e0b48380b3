using TdxSim.Actors.Scheduling;

namespace TdxSim.Actors.TestKit;

/// <summary>Time-bounded blocks and polling assertions.</summary>
public abstract partial class TestKitBase
{
    /// <summary>
    /// Runs <paramref name="action"/> and asserts it took at most <paramref name="max"/> (dilated). Expectations
    /// inside without an explicit timeout wait only for the time left in the block.
    /// </summary>
    public void Within(TimeSpan max, Action action) => Within(TimeSpan.Zero, max, action);

    /// <summary>Runs <paramref name="action"/> and asserts it took between <paramref name="min"/> and <paramref name="max"/> (dilated).</summary>
    public void Within(TimeSpan min, TimeSpan max, Action action)
    {
        ArgumentNullException.ThrowIfNull(action);
        Within(min, max, () =>
        {
            action();
            return 0;
        });
    }

    /// <summary>Like <see cref="Within(TimeSpan, Action)"/>, returning the block's result.</summary>
    public T Within<T>(TimeSpan max, Func<T> function) => Within(TimeSpan.Zero, max, function);

    /// <summary>Like <see cref="Within(TimeSpan, TimeSpan, Action)"/>, returning the block's result.</summary>
    public T Within<T>(TimeSpan min, TimeSpan max, Func<T> function)
    {
        ArgumentNullException.ThrowIfNull(function);
        if (min < TimeSpan.Zero || max < min)
        {
            throw new ArgumentOutOfRangeException(nameof(max), max, $"Within needs 0 <= min <= max (got min {min}, max {max}).");
        }

        TimeSpan dilatedMax = Dilated(max);
        long start = NowNanoseconds;
        long outer = _withinDeadline;
        _withinDeadline = Math.Min(outer, start + TimeUnits.ToNanoseconds(dilatedMax));
        T result;
        try
        {
            result = function();
        }
        finally
        {
            _withinDeadline = outer;
        }

        TimeSpan elapsed = TimeUnits.FromNanoseconds(NowNanoseconds - start);
        if (elapsed < min)
        {
            Fail($"The block took {elapsed}, less than the minimum {min}.");
        }

        if (elapsed > dilatedMax)
        {
            Fail($"The block took {elapsed}, more than the maximum {dilatedMax}.");
        }

        return result;
    }

    /// <summary>Waits until <paramref name="condition"/> holds, polling (or running the deterministic simulation); fails after <paramref name="max"/>.</summary>
    public void AwaitCondition(Func<bool> condition, TimeSpan? max = null, TimeSpan? interval = null, string? message = null)
    {
        ArgumentNullException.ThrowIfNull(condition);
        TimeSpan limit = RemainingOrDilated(max);
        if (!Poll(condition, limit, interval))
        {
            Fail($"Condition not met within {limit}{(message is null ? string.Empty : ": " + message)}.");
        }
    }

    /// <summary>
    /// Runs <paramref name="assertion"/> until it stops throwing; after <paramref name="duration"/> the last
    /// failure is rethrown.
    /// </summary>
    public void AwaitAssert(Action assertion, TimeSpan? duration = null, TimeSpan? interval = null)
    {
        ArgumentNullException.ThrowIfNull(assertion);
        TimeSpan limit = RemainingOrDilated(duration);
        Exception? last = null;
        bool Passes()
        {
            try
            {
                assertion();
                return true;
            }
#pragma warning disable CA1031 // Any exception means "not yet"; the last one is rethrown on timeout.
            catch (Exception exception)
#pragma warning restore CA1031
            {
                last = exception;
                return false;
            }
        }

        if (!Poll(Passes, limit, interval))
        {
            throw last!;
        }
    }

    /// <summary>
    /// Re-evaluates <paramref name="check"/> until it holds or <paramref name="limit"/> passes. Under an
    /// owner-driven deterministic dispatcher each miss advances the simulation by one step (or to the next
    /// timer), and the check itself may run the loop (e.g. call <c>ExpectMsg</c>); otherwise it sleeps.
    /// </summary>
    private bool Poll(Func<bool> check, TimeSpan limit, TimeSpan? interval)
    {
        long deadline = NowNanoseconds + TimeUnits.ToNanoseconds(limit);
        if (TestMessageQueue.PumpingDispatcher(Sys) is { } deterministic)
        {
            long steps = 0;
            while (!check())
            {
                if (NowNanoseconds >= deadline || ++steps > Settings.MaxDeterministicSteps || !deterministic.StepOrAdvance(deadline))
                {
                    return check();
                }
            }

            return true;
        }

        TimeSpan pause = interval ?? Settings.PollInterval;
        while (!check())
        {
            if (NowNanoseconds >= deadline)
            {
                return false;
            }

            Thread.Sleep(pause);
        }

        return true;
    }
}
