using System.Diagnostics;

namespace TdxSim.Runtime.Time;

/// <summary>
/// Real, monotonic time from the host's TSC where the kernel keeps time by it (<see cref="TscTimestamp"/>), else from
/// <see cref="Stopwatch"/>, counted from the moment the clock was created.
/// Never reads <see cref="DateTime"/>, so wall-clock adjustments cannot make it run backwards.
/// </summary>
public sealed class MonotonicClock : IClock
{
    private const long NanosecondsPerSecond = 1_000_000_000;
    private static readonly bool TicksAreNanoseconds = Stopwatch.Frequency == NanosecondsPerSecond;
    private static readonly double NanosecondsPerTick = (double)NanosecondsPerSecond / Stopwatch.Frequency;

    private static readonly bool UseTsc = TscTimestamp.Available;
    private static readonly double NanosecondsPerTsc = TscTimestamp.NanosecondsPerTick;

    private readonly long _origin = Stopwatch.GetTimestamp();
    private readonly ulong _originTsc = UseTsc ? TscTimestamp.Read() : 0;

    /// <summary>Whether this process reads the host's TSC (see <see cref="TscTimestamp"/>) rather than the Stopwatch.</summary>
    public static bool ReadsTsc => UseTsc;

    /// <inheritdoc />
    public long NowNanoseconds
    {
        get
        {
            if (UseTsc)
            {
                return (long)((long)(TscTimestamp.Read() - _originTsc) * NanosecondsPerTsc);
            }

            long ticks = Stopwatch.GetTimestamp() - _origin;
            // On Linux the Stopwatch frequency is 1 GHz, so the common case is a plain subtraction.
            return TicksAreNanoseconds ? ticks : (long)(ticks * NanosecondsPerTick);
        }
    }
}
