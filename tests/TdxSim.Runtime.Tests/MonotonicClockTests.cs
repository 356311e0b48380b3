using System.Diagnostics;
using System.Runtime.InteropServices;
using TdxSim.Runtime.Time;

namespace TdxSim.Runtime.Tests;

/// <summary>The real-time clock: the host's TSC where the kernel keeps time by it, else the Stopwatch.</summary>
public sealed class MonotonicClockTests
{
    [Fact]
    public void Tsc_IsUsedExactlyWhereTheKernelKeepsTimeByIt()
    {
        const string clocksource = "/sys/devices/system/clocksource/clocksource0/current_clocksource";
        bool expected = RuntimeInformation.ProcessArchitecture == Architecture.X64 && OperatingSystem.IsLinux()
            && File.Exists(clocksource) && File.ReadAllText(clocksource).Trim() == "tsc"
            && Environment.GetEnvironmentVariable("TDXSIM_CLOCK") != "stopwatch";

        Assert.Equal(expected, TscTimestamp.Available);
        Assert.Equal(expected, MonotonicClock.ReadsTsc);
        if (expected)
        {
            Assert.InRange(TscTimestamp.NanosecondsPerTick, 0.05, 10);
        }
    }

    [Fact]
    public void Readings_NeverGoBackOnAThread_AndKeepPaceWithTheStopwatch()
    {
        var clock = new MonotonicClock();

        // Each end is bracketed by Stopwatch reads: a preemption (a loaded host) widens the bracket but cannot push
        // the clock's interval outside it.
        long s0 = Stopwatch.GetTimestamp();
        long c0 = clock.NowNanoseconds;
        long s1 = Stopwatch.GetTimestamp();
        long previous = c0;
        var watch = Stopwatch.StartNew();
        while (watch.ElapsedMilliseconds < 60)
        {
            long now = clock.NowNanoseconds;
            Assert.True(now >= previous, $"the clock went back from {previous} to {now} ns");
            previous = now;
        }

        long s2 = Stopwatch.GetTimestamp();
        long c1 = clock.NowNanoseconds;
        long s3 = Stopwatch.GetTimestamp();

        double shortest = Stopwatch.GetElapsedTime(s1, s2).TotalNanoseconds;
        double longest = Stopwatch.GetElapsedTime(s0, s3).TotalNanoseconds;
        double measured = c1 - c0;

        // The calibration is good to well under 1%; allow 1% beyond the bracket.
        Assert.True(measured >= shortest * 0.99 && measured <= longest * 1.01, $"the clock measured {measured:F0} ns for an interval of {shortest:F0} to {longest:F0} ns (TSC: {TscTimestamp.Available}, {TscTimestamp.NanosecondsPerTick} ns per tick)");
    }

    [Fact]
    public void Readings_OnOtherThreads_AreOnTheSameTimeline()
    {
        var clock = new MonotonicClock();
        long before = clock.NowNanoseconds;
        long onOther = 0;
        var t = new Thread(() => onOther = clock.NowNanoseconds);
        t.Start();
        t.Join();
        long after = clock.NowNanoseconds;

        Assert.InRange(onOther, before, after);
    }
}
