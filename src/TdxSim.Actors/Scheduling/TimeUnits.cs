namespace TdxSim.Actors.Scheduling;

/// <summary>Conversions between <see cref="TimeSpan"/> (100 ns ticks) and the runtime's nanosecond time.</summary>
public static class TimeUnits
{
    /// <summary>Nanoseconds in one <see cref="TimeSpan"/> tick.</summary>
    public const long NanosecondsPerTick = 100;

    /// <summary>Converts a duration to nanoseconds, saturating at <see cref="long.MaxValue"/>.</summary>
    public static long ToNanoseconds(TimeSpan duration)
    {
        long ticks = duration.Ticks;
        if (ticks > long.MaxValue / NanosecondsPerTick)
        {
            return long.MaxValue;
        }

        if (ticks < long.MinValue / NanosecondsPerTick)
        {
            return long.MinValue;
        }

        return ticks * NanosecondsPerTick;
    }

    /// <summary>Converts nanoseconds to a duration (rounded down to whole 100 ns ticks).</summary>
    public static TimeSpan FromNanoseconds(long nanoseconds) => TimeSpan.FromTicks(nanoseconds / NanosecondsPerTick);
}
