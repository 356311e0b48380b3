using System.Diagnostics;
using System.Runtime.InteropServices;
using TdxSim.Runtime.Time;

namespace TdxSim.Runtime.Tests;

/// <summary>The real-time clock: the host's TSC where the kernel keeps time by it, else the Stopwatch.</summary>
public sealed class MonotonicClockTests
{
    [Fact]
    public void Tsc_IsUsedExactlyWhereTheKernelOrKvmClockVouchesForIt()
    {
        const string clocksourcePath = "/sys/devices/system/clocksource/clocksource0/current_clocksource";
        string? clocksource = File.Exists(clocksourcePath) ? File.ReadAllText(clocksourcePath).Trim() : null;
        bool eligible = RuntimeInformation.ProcessArchitecture == Architecture.X64 && OperatingSystem.IsLinux()
            && Environment.GetEnvironmentVariable("TDXSIM_CLOCK") != "stopwatch";
        bool expected = eligible && (clocksource == "tsc" || (clocksource == "kvm-clock" && PvclockStableBitFromVdso()));

        Assert.Equal(expected, TscTimestamp.Available);
        Assert.Equal(expected, MonotonicClock.ReadsTsc);
        Assert.Equal(expected, TscTimestamp.Source is not null);
        Assert.Equal(clocksource == "kvm-clock" && PvclockStableBitFromVdso(), TscTimestamp.KvmClockTscIsStable());
        if (expected)
        {
            Assert.InRange(TscTimestamp.NanosecondsPerTick, 0.05, 10);
            Assert.Equal(clocksource == "tsc" ? "tsc clocksource" : "kvm-clock, TSC stable", TscTimestamp.Source);
        }
    }

    /// <summary>
    /// The test's own reading of kvm-clock's stable-TSC bit (flags byte 29 of the pvclock page, the first page of
    /// <c>[vvar_vclock]</c>), through a .NET pipe: the kernel maps the page only when its vDSO uses it, and a copy
    /// through a pipe turns an unmapped page into a failed write instead of a SIGBUS.
    /// </summary>
    private static unsafe bool PvclockStableBitFromVdso()
    {
        string? line = File.ReadLines("/proc/self/maps").FirstOrDefault(l => l.EndsWith("[vvar_vclock]", StringComparison.Ordinal));
        if (line is null)
        {
            return false;
        }

        ulong start = Convert.ToUInt64(line[..line.IndexOf('-', StringComparison.Ordinal)], 16);
        using var pipe = new System.IO.Pipes.AnonymousPipeServerStream(System.IO.Pipes.PipeDirection.Out);
        using var reader = new System.IO.Pipes.AnonymousPipeClientStream(System.IO.Pipes.PipeDirection.In, pipe.ClientSafePipeHandle);
        nint written = Write((int)pipe.SafePipeHandle.DangerousGetHandle(), (void*)start, 32);
        if (written != 32)
        {
            return false;
        }

        byte[] page = new byte[32];
        reader.ReadExactly(page);
        return BitConverter.ToUInt32(page, 24) != 0 && (page[29] & 1) != 0;
    }

    [DllImport("libc", EntryPoint = "write")]
    private static extern unsafe nint Write(int fd, void* buffer, nuint count);

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
