using TdxSim.Images.Guests;
using TdxSim.Machine.Scenarios;
using TdxSim.Machine.Stress;

namespace TdxSim.Machine.Tests.Stress;

public sealed class StressRunnerTests
{
    [Theory]
    [InlineData(StressOp.Pio, IoPath.Ve, 8)]
    [InlineData(StressOp.Pio, IoPath.Paravirt, 4)]
    [InlineData(StressOp.Mmio, IoPath.Ve, 8)]
    [InlineData(StressOp.Mmio, IoPath.Paravirt, 4)]
    [InlineData(StressOp.Cpuid, IoPath.Ve, 8)]
    [InlineData(StressOp.Cpuid, IoPath.Paravirt, 4)]
    [InlineData(StressOp.Msr, IoPath.Ve, 8)]
    [InlineData(StressOp.Msr, IoPath.Paravirt, 4)]
    [InlineData(StressOp.Vmcall, IoPath.Paravirt, 4)]
    public void Run_Count_DoesExactlyThatManyRoundTripsOfTheExpectedShape(StressOp op, IoPath path, int messagesPerOp)
    {
        StressResult r = StressRunner.Run(new StressOptions { Op = op, Path = path, Count = 300, Vcpus = 1 });

        Assert.Equal(ExitStatus.Success, r.ExitStatus);
        Assert.Equal(300, r.Ops);
        Assert.Equal(60UL, r.WarmupOps); // a fifth of the count, run before measuring

        // Every op, warm-up included, is one #VE (8 messages) or one TDCALL (4); the rest is start-up and shutdown.
        long overhead = r.Messages - ((r.Ops + (long)r.WarmupOps) * messagesPerOp);
        Assert.InRange(overhead, 0, 16);
        Assert.True(r.LatencyNs.P50 > 0);
        Assert.True(r.LatencyNs.P50 <= r.LatencyNs.P99 && r.LatencyNs.P99 <= r.LatencyNs.P999 && r.LatencyNs.P999 <= r.LatencyNs.Max);
        Assert.True(r.OpsPerSecond > 0);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Run_InterruptedByTheUser_StopsCleanlyWithTheSignalsStatus(bool deterministic)
    {
        var interrupt = new RunInterrupt();
        using var timer = new Timer(_ => interrupt.Request("SIGTERM", ExitStatus.Terminated), null, 300, Timeout.Infinite);
        StressResult r = StressRunner.Run(new StressOptions
        {
            Op = StressOp.Pio, Path = IoPath.Paravirt, Count = null, Seconds = 60, Vcpus = 2,
            Deterministic = deterministic, Interrupt = interrupt,
        });

        Assert.Equal(ExitStatus.Terminated, r.ExitStatus);
        Assert.Equal("interrupted", r.Reason);
        Assert.Contains("SIGTERM", r.Detail, StringComparison.Ordinal);
        Assert.True(r.Ops > 0);
        Assert.True(r.Seconds < 30, $"{r.Seconds} s");
        Assert.Equal(0, r.Undelivered.Total);
        Assert.False(interrupt.Request("SIGINT", ExitStatus.Interrupted));
    }

    [Fact]
    public void Run_Warmup_RunsBeforeMeasuringAndIsLeftOutOfTheFigures()
    {
        StressResult none = StressRunner.Run(new StressOptions { Op = StressOp.Pio, Path = IoPath.Paravirt, Count = 400, Warmup = 0 });
        StressResult some = StressRunner.Run(new StressOptions { Op = StressOp.Pio, Path = IoPath.Paravirt, Count = 400, Warmup = 250 });

        Assert.Equal(0UL, none.WarmupOps);
        Assert.Equal(400, none.Ops);
        Assert.Equal(250UL, some.WarmupOps);
        Assert.Equal(400, some.Ops);

        // The warm-up's operations ran (their messages are there) but are not in the latencies or the count.
        Assert.InRange(some.Messages - none.Messages, (250 * 4) - 8, (250 * 4) + 8);
        Assert.True(some.Seconds > 0 && some.OpsPerSecond > 0);
    }

    [Fact]
    public void Run_Deterministic_HasNoDefaultWarmup()
    {
        StressResult r = StressRunner.Run(new StressOptions { Op = StressOp.Pio, Path = IoPath.Paravirt, Count = 100, Deterministic = true, Seed = 1 });
        Assert.Equal(0UL, r.WarmupOps);
        Assert.Equal(100, r.Ops);
    }

    [Theory]
    [InlineData(VmmTopology.Single)]
    [InlineData(VmmTopology.PerVcpu)]
    public void Run_OneTdxModulePerVcpu_DoesEveryOperation(VmmTopology vmm)
    {
        StressResult r = StressRunner.Run(new StressOptions
        {
            Op = StressOp.Vmcall, Path = IoPath.Paravirt, Count = 3001, Vcpus = 3, Vmm = vmm, Module = ModuleTopology.PerVcpu, Warmup = 0,
        });

        Assert.Equal(ExitStatus.Success, r.ExitStatus);
        Assert.Equal(3001, r.Ops);
        Assert.InRange(r.Messages - (3001 * 4), 0, 64);
    }

    [Fact]
    public void Run_OneTdxModulePerVcpu_IsDeterministicToo()
    {
        var options = new StressOptions { Op = StressOp.Mmio, Path = IoPath.Ve, Count = 200, Vcpus = 2, Module = ModuleTopology.PerVcpu, Deterministic = true, Seed = 9 };
        StressResult a = StressRunner.Run(options);
        StressResult b = StressRunner.Run(options);
        Assert.Equal(ExitStatus.Success, a.ExitStatus);
        Assert.Equal(a.VirtualNanoseconds, b.VirtualNanoseconds);
        Assert.Equal(a.LatencyNs, b.LatencyNs);
    }

    [Fact]
    public void Run_CountSplitsOverVcpus_AndPerVcpuVmm()
    {
        StressResult r = StressRunner.Run(new StressOptions { Op = StressOp.Pio, Path = IoPath.Paravirt, Count = 1001, Vcpus = 3, Vmm = VmmTopology.PerVcpu });
        Assert.Equal(ExitStatus.Success, r.ExitStatus);
        Assert.Equal(1001, r.Ops);
    }

    [Fact]
    public void Run_Deterministic_IsReproducibleInVirtualTime()
    {
        var options = new StressOptions { Op = StressOp.Mmio, Path = IoPath.Ve, Count = 200, Vcpus = 2, Deterministic = true, Seed = 7 };
        StressResult a = StressRunner.Run(options);
        StressResult b = StressRunner.Run(options);

        Assert.Equal(a.Ops, b.Ops);
        Assert.Equal(a.Messages, b.Messages);
        Assert.Equal(a.VirtualNanoseconds, b.VirtualNanoseconds);
        Assert.Equal(a.LatencyNs, b.LatencyNs);
        Assert.True(a.VirtualNanoseconds > 0);
    }

    [Fact]
    public void Run_Seconds_EndsByTheTimeLimit()
    {
        StressResult r = StressRunner.Run(new StressOptions { Op = StressOp.Vmcall, Path = IoPath.Paravirt, Count = null, Seconds = 0.2, Deterministic = true });
        Assert.Equal(ExitStatus.LimitReached, r.ExitStatus);
        Assert.Equal("time-limit", r.Reason);
        Assert.True(r.Ops > 0);
    }

    [Fact]
    public void Run_VmcallOnTheVePath_IsRefused()
    {
        ScenarioException e = Assert.Throws<ScenarioException>(() => StressRunner.Run(new StressOptions { Op = StressOp.Vmcall, Path = IoPath.Ve }));
        Assert.Contains("paravirt", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(0, 100.0)]
    [InlineData(257, 100.0)]
    public void Run_BadVcpuCount_IsRefused(int vcpus, double count)
        => Assert.Throws<ScenarioException>(() => StressRunner.Run(new StressOptions { Vcpus = vcpus, Count = (ulong)count }));

    [Fact]
    public void Run_ZeroCount_IsRefused()
        => Assert.Throws<ScenarioException>(() => StressRunner.Run(new StressOptions { Count = 0 }));
}
