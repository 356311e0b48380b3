namespace TdxSim.Actors.Scheduling;

/// <summary>Argument checks shared by the schedulers, so both reject bad input with the same words.</summary>
internal static class SchedulerValidation
{
    public static long Delay(TimeSpan delay, string parameterName)
    {
        if (delay < TimeSpan.Zero || delay == Timeout.InfiniteTimeSpan)
        {
            throw new ArgumentOutOfRangeException(parameterName, delay, "A scheduling delay must be zero or positive and finite.");
        }

        return TimeUnits.ToNanoseconds(delay);
    }

    public static long Interval(TimeSpan interval, string parameterName)
    {
        if (interval <= TimeSpan.Zero || interval == Timeout.InfiniteTimeSpan)
        {
            throw new ArgumentOutOfRangeException(parameterName, interval, "A repeat interval must be positive and finite.");
        }

        return TimeUnits.ToNanoseconds(interval);
    }

    public static long Due(long now, long delay) => delay > long.MaxValue - now ? long.MaxValue : now + delay;

    public static void Target(IActorRef receiver, object message)
    {
        ArgumentNullException.ThrowIfNull(receiver);
        ArgumentNullException.ThrowIfNull(message);
    }
}
