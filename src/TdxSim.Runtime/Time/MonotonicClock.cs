using System.Diagnostics;

namespace TdxSim.Runtime.Time;

/// <summary>
/// Real, monotonic time from <see cref="Stopwatch"/>, counted from the moment the clock was created.
/// Never reads <see cref="DateTime"/>, so wall-clock adjustments cannot make it run backwards.
/// </summary>
public sealed class MonotonicClock : IClock
{
    private const long NanosecondsPerSecond = 1_000_000_000;
    private static readonly bool TicksAreNanoseconds = Stopwatch.Frequency == NanosecondsPerSecond;
    private static readonly double NanosecondsPerTick = (double)NanosecondsPerSecond / Stopwatch.Frequency;

    private readonly long _origin = Stopwatch.GetTimestamp();

    /// <inheritdoc />
    public long NowNanoseconds
    {
        get
        {
            long ticks = Stopwatch.GetTimestamp() - _origin;
            // On Linux the Stopwatch frequency is 1 GHz, so the common case is a plain subtraction.
            return TicksAreNanoseconds ? ticks : (long)(ticks * NanosecondsPerTick);
        }
    }
}
