using System.Numerics;

namespace TdxSim.Runtime.Counters;

/// <summary>
/// A log-linear latency histogram (HDR-style): values up to 2^48 ns in buckets whose width is 1/64 of their
/// power of two, so any reported percentile is within 1.6 % of the true value. Recording is a few
/// instructions and allocates nothing; one writer at a time (each vCPU owns its own), merged afterwards.
/// </summary>
public sealed class LatencyHistogram
{
    private const int SubBucketBits = 6;
    private const int SubBuckets = 1 << SubBucketBits;
    private const int MaxExponent = 48;

    private readonly long[] _counts = new long[(MaxExponent + 1) * SubBuckets];

    /// <summary>Number of values recorded.</summary>
    public long Count { get; private set; }

    /// <summary>Largest value recorded.</summary>
    public long Max { get; private set; }

    /// <summary>Smallest value recorded (0 when empty).</summary>
    public long Min => Count == 0 ? 0 : _min;

    /// <summary>Sum of values recorded.</summary>
    public double Sum { get; private set; }

    private long _min = long.MaxValue;

    /// <summary>Records one value in nanoseconds (negative values count as zero).</summary>
    public void Record(long nanoseconds)
    {
        long v = nanoseconds < 0 ? 0 : nanoseconds;
        _counts[IndexOf(v)]++;
        Count++;
        Sum += v;
        if (v > Max)
        {
            Max = v;
        }

        if (v < _min)
        {
            _min = v;
        }
    }

    /// <summary>Adds every value of <paramref name="other"/>.</summary>
    public void Merge(LatencyHistogram other)
    {
        ArgumentNullException.ThrowIfNull(other);
        for (int i = 0; i < _counts.Length; i++)
        {
            _counts[i] += other._counts[i];
        }

        Count += other.Count;
        Sum += other.Sum;
        Max = Math.Max(Max, other.Max);
        if (other.Count > 0)
        {
            _min = Math.Min(_min, other._min);
        }
    }

    /// <summary>The value at <paramref name="percentile"/> (0..100): the upper edge of its bucket, capped at <see cref="Max"/>.</summary>
    public long Percentile(double percentile)
    {
        if (Count == 0)
        {
            return 0;
        }

        long rank = (long)Math.Ceiling(Math.Clamp(percentile, 0, 100) / 100.0 * Count);
        rank = Math.Max(rank, 1);
        long seen = 0;
        for (int i = 0; i < _counts.Length; i++)
        {
            seen += _counts[i];
            if (seen >= rank)
            {
                return Math.Min(UpperEdge(i), Max);
            }
        }

        return Max;
    }

    /// <summary>Mean in nanoseconds.</summary>
    public double Mean => Count == 0 ? 0 : Sum / Count;

    private static int IndexOf(long v)
    {
        if (v < SubBuckets)
        {
            return (int)v;
        }

        int exponent = 63 - BitOperations.LeadingZeroCount((ulong)v); // >= SubBucketBits
        if (exponent > MaxExponent)
        {
            return (MaxExponent + 1) * SubBuckets - 1;
        }

        int sub = (int)(v >> (exponent - SubBucketBits)) & (SubBuckets - 1);
        return ((exponent - SubBucketBits + 1) * SubBuckets) + sub;
    }

    private static long UpperEdge(int index)
    {
        if (index < SubBuckets)
        {
            return index;
        }

        int exponent = (index / SubBuckets) + SubBucketBits - 1;
        long sub = index % SubBuckets;
        long width = 1L << (exponent - SubBucketBits);
        return (1L << exponent) + ((sub + 1) * width) - 1;
    }
}
