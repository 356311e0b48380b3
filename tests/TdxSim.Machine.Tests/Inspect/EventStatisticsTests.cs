using TdxSim.Cli.Inspect;

namespace TdxSim.Machine.Tests.Inspect;

public sealed class EventStatisticsTests
{
    [Fact]
    public void Statistics_MatchTheTextbookFormulas()
    {
        long[] samples = [120, 80, 400, 95, 105];
        var s = new EventStatistics();
        foreach (long x in samples)
        {
            s.Add(x);
        }

        double mean = samples.Average();
        double variance = samples.Sum(x => (x - mean) * (x - mean)) / (samples.Length - 1);
        double expected = 100 * Math.Sqrt(variance / samples.Length) / mean;
        Assert.Equal(5, s.Count);
        Assert.Equal(800, s.TotalNs);
        Assert.Equal(80, s.MinNs);
        Assert.Equal(400, s.MaxNs);
        Assert.Equal(160.0, s.AverageNs);
        Assert.Equal(expected, s.RelativeStddevPercent, precision: 9);
    }

    [Fact]
    public void OneSample_HasNoSpread()
    {
        var s = new EventStatistics();
        s.Add(7);
        Assert.Equal(0, s.RelativeStddevPercent);
        Assert.Equal(7, s.MinNs);
        Assert.Equal(7, s.MaxNs);
    }

    [Fact]
    public void LargeValues_StayAccurate()
    {
        // Welford's update keeps precision where the naive sum of squares would cancel catastrophically.
        var s = new EventStatistics();
        foreach (long x in new long[] { 1_000_000_000_001, 1_000_000_000_003, 1_000_000_000_002 })
        {
            s.Add(x);
        }

        double expected = 100 * Math.Sqrt(1.0 / 3) / 1_000_000_000_002;
        Assert.Equal(expected, s.RelativeStddevPercent, precision: 15);
    }
}
