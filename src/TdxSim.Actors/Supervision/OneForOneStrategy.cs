namespace TdxSim.Actors.Supervision;

/// <summary>
/// Applies the decider's directive to the failing child only (Akka's <c>OneForOneStrategy</c>).
/// A child restarted more than <see cref="MaxNumberOfRetries"/> times within <see cref="WithinTimeRange"/>
/// is stopped instead.
/// </summary>
public sealed class OneForOneStrategy : SupervisorStrategy
{
    private readonly Func<Exception, Directive> _decider;
    private readonly long _windowNanoseconds;

    /// <summary>Creates the strategy.</summary>
    /// <param name="maxNrOfRetries">
    /// Restarts allowed per child within the window: -1 = unlimited, 0 = never restart (stop instead).
    /// </param>
    /// <param name="withinTimeRange">
    /// The window, measured with the system clock (virtual under the deterministic dispatcher);
    /// <see cref="Timeout.InfiniteTimeSpan"/> or <see cref="TimeSpan.Zero"/> = count restarts over the child's whole life.
    /// </param>
    /// <param name="decider">Maps an exception to a <see cref="Directive"/>.</param>
    public OneForOneStrategy(int maxNrOfRetries, TimeSpan withinTimeRange, Func<Exception, Directive> decider)
    {
        ArgumentNullException.ThrowIfNull(decider);
        if (maxNrOfRetries < -1)
        {
            throw new ArgumentOutOfRangeException(nameof(maxNrOfRetries), maxNrOfRetries, "maxNrOfRetries must be -1 (unlimited), 0 (never restart) or positive.");
        }

        if (withinTimeRange < TimeSpan.Zero && withinTimeRange != Timeout.InfiniteTimeSpan)
        {
            throw new ArgumentOutOfRangeException(nameof(withinTimeRange), withinTimeRange, "withinTimeRange must be positive, zero or Timeout.InfiniteTimeSpan (no window).");
        }

        MaxNumberOfRetries = maxNrOfRetries;
        WithinTimeRange = withinTimeRange;
        _decider = decider;
        _windowNanoseconds = withinTimeRange <= TimeSpan.Zero ? 0 : Scheduling.TimeUnits.ToNanoseconds(withinTimeRange);
    }

    /// <summary>Creates the strategy with unlimited restarts.</summary>
    public OneForOneStrategy(Func<Exception, Directive> decider)
        : this(-1, Timeout.InfiniteTimeSpan, decider)
    {
    }

    /// <summary>Restarts allowed per child within <see cref="WithinTimeRange"/> (-1 = unlimited).</summary>
    public int MaxNumberOfRetries { get; }

    /// <summary>The retry window; infinite or zero means no window.</summary>
    public TimeSpan WithinTimeRange { get; }

    /// <inheritdoc />
    public override Directive Decide(Exception exception) => _decider(exception);

    internal override bool RequestRestartPermission(RestartStatistics statistics, long nowNanoseconds) =>
        statistics.RequestRestartPermission(MaxNumberOfRetries, _windowNanoseconds, nowNanoseconds);
}
