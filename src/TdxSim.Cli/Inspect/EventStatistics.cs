namespace TdxSim.Cli.Inspect;

/// <summary>
/// Running statistics of one key's event durations: count, total, min, max, and the mean and variance by
/// Welford's method (numerically stable in one pass, so a long log need not be kept in memory).
/// </summary>
public sealed class EventStatistics
{
    private double _mean;
    private double _m2;

    /// <summary>Samples.</summary>
    public long Count { get; private set; }

    /// <summary>Sum of durations, ns.</summary>
    public long TotalNs { get; private set; }

    /// <summary>Shortest duration, ns.</summary>
    public long MinNs { get; private set; } = long.MaxValue;

    /// <summary>Longest duration, ns.</summary>
    public long MaxNs { get; private set; } = long.MinValue;

    /// <summary>Mean duration, ns.</summary>
    public double AverageNs => Count == 0 ? 0 : (double)TotalNs / Count;

    /// <summary>
    /// The "± x%" of <c>perf kvm stat</c>: the standard error of the mean (sample standard deviation divided by
    /// √n) as a percentage of the mean; 0 with fewer than two samples or a zero mean.
    /// </summary>
    public double RelativeStddevPercent
    {
        get
        {
            if (Count < 2 || _mean == 0)
            {
                return 0;
            }

            double variance = _m2 / (Count - 1);
            return 100.0 * Math.Sqrt(variance / Count) / _mean;
        }
    }

    /// <summary>Adds one duration.</summary>
    public void Add(long durationNs)
    {
        Count++;
        TotalNs += durationNs;
        MinNs = Math.Min(MinNs, durationNs);
        MaxNs = Math.Max(MaxNs, durationNs);
        double delta = durationNs - _mean;
        _mean += delta / Count;
        _m2 += delta * (durationNs - _mean);
    }
}
