using TdxSim.Images.Guests;
using TdxSim.Machine.Scenarios;
using TdxSim.Machine.Stress;

namespace TdxSim.Machine.Tests.Stress;

/// <summary>
/// Deterministic mode as a closed queueing network: N vCPUs each issue one paravirt port write at a time, think
/// for their instructions (Z), and visit the TDX module twice and the VMM once (service demands D). With fixed
/// costs the simulation must meet the asymptotic bounds of operational analysis: throughput N/(D+Z) while nothing
/// queues, 1/D_max once the busiest server saturates.
/// </summary>
public sealed class QueueingTheoryTests
{
    // Round, distinct costs, so each term of the bound is visible in the figures.
    private static readonly CostModelSettings Costs = new()
    {
        InstructionNs = 2, TdcallNs = 200, TdEntryNs = 100, VmmNs = 2_000, TransitNs = 0, OtherNs = 0,
    };

    private static StressResult Run(int vcpus, VmmTopology vmm, ModuleTopology module, CostModelSettings? costs = null, ulong count = 20_000) =>
        StressRunner.Run(new StressOptions
        {
            Op = StressOp.Pio, Path = IoPath.Paravirt, Vcpus = vcpus, Count = count, Vmm = vmm, Module = module,
            Deterministic = true, Seed = 3, Costs = costs ?? Costs,
        });

    [Fact]
    public void OneVcpu_RunsAtNOverDPlusZ()
    {
        StressResult r = Run(1, VmmTopology.Single, ModuleTopology.Single);
        Assert.Equal(0, r.ExitStatus);

        // Z: the guest's own instructions per operation; D: module twice, VMM once, and the TD entry back.
        double instructionsPerOp = (double)r.Instructions / r.Ops;
        double z = instructionsPerOp * Costs.InstructionNs;
        double d = (2 * Costs.TdcallNs) + Costs.VmmNs + Costs.TdEntryNs;
        double expected = 1e9 / (d + z);
        Assert.InRange(r.OpsPerSecond, expected * 0.98, expected * 1.02);
    }

    [Fact]
    public void SingleVmm_SaturatesAtOneOverItsCost_WithSixtyFourVcpus()
    {
        StressResult r = Run(64, VmmTopology.Single, ModuleTopology.Single, count: 64 * 300);
        Assert.Equal(0, r.ExitStatus);
        double bound = 1e9 / Costs.VmmNs;
        Assert.InRange(r.OpsPerSecond, bound * 0.98, bound * 1.02);

        // The report names the VMM as the bottleneck, busy nearly all the time, with the vCPUs queued in front of it.
        ContentionReport report = r.Contention!;
        Assert.True(report.Modelled);
        ActorLoad vmm = Assert.Single(report.Actors, a => a.Actor == "vmm");
        Assert.Equal("vmm", report.Bottleneck!.Actor);
        Assert.True(vmm.Utilization >= 0.9, $"VMM utilization {vmm.Utilization}");
        Assert.True(vmm.MaxQueue >= 32, $"max queue {vmm.MaxQueue}");
        Assert.True(vmm.WaitP50 >= 30 * Costs.VmmNs, $"wait p50 {vmm.WaitP50}");

        // Closed-system fairness: every vCPU got the same share.
        Assert.True(r.Fairness > 0.99, $"fairness {r.Fairness}");
        Assert.Equal(64, r.VcpuOps.Count);
    }

    [Fact]
    public void ThroughputNeverExceedsEitherBound()
    {
        double d = (2 * Costs.TdcallNs) + Costs.VmmNs + Costs.TdEntryNs;
        foreach (int n in new[] { 1, 2, 3, 8 })
        {
            StressResult r = Run(n, VmmTopology.Single, ModuleTopology.Single, count: (ulong)n * 500);
            double z = (double)r.Instructions / r.Ops * Costs.InstructionNs;
            double bound = Math.Min(n * 1e9 / (d + z), 1e9 / Costs.VmmNs);
            Assert.True(r.OpsPerSecond <= bound * 1.02, $"{n} vCPUs: {r.OpsPerSecond} > {bound}");
        }
    }

    [Fact]
    public void PerVcpuVmmAndModule_SixteenVcpus_AreAtLeastEightTimesOne()
    {
        StressResult one = Run(1, VmmTopology.PerVcpu, ModuleTopology.PerVcpu, count: 2_000);
        StressResult sixteen = Run(16, VmmTopology.PerVcpu, ModuleTopology.PerVcpu, count: 16 * 2_000);
        Assert.True(sixteen.OpsPerSecond >= 8 * one.OpsPerSecond, $"{sixteen.OpsPerSecond} against {one.OpsPerSecond}");

        // Nothing is shared, so nothing waits: the latency of sixteen is that of one.
        Assert.Equal(one.LatencyNs.P50, sixteen.LatencyNs.P50);
    }

    [Fact]
    public void SharedModule_BecomesTheBottleneck_OfPerVcpuVmms()
    {
        // The module serves two visits of 200 ns per operation: 2.5 M ops/s at most, whatever the VMMs do.
        StressResult r = Run(32, VmmTopology.PerVcpu, ModuleTopology.Single, count: 32 * 500);
        double bound = 1e9 / (2 * Costs.TdcallNs);
        Assert.InRange(r.OpsPerSecond, bound * 0.98, bound * 1.02);
        Assert.Equal("tdx-module", r.Contention!.Bottleneck!.Actor);
    }

    [Fact]
    public void SharedUart_MakesPerVcpuVmmsWaitForItsLock()
    {
        // The stress port is COM1's scratch register: with a 1 us hold, COM1 serializes per-vCPU VMMs at 1 M ops/s.
        CostModelSettings costs = Costs.With("device_ns", "com1", "1000", out _)!;
        StressResult r = Run(16, VmmTopology.PerVcpu, ModuleTopology.PerVcpu, costs, count: 16 * 500);
        Assert.InRange(r.OpsPerSecond, 1e6 * 0.98, 1e6 * 1.02);
        ActorLoad com1 = Assert.Single(r.Contention!.Devices, d => d.Actor == "device/com1");
        Assert.Equal(16 * 500, com1.Messages);
        Assert.True(com1.MaxQueue > 0, "no access found COM1 held");
        Assert.True(com1.WaitP50 > 0);
        Assert.True(com1.Utilization > 0.95, $"COM1 utilization {com1.Utilization}");
        Assert.Equal("device/com1", r.Contention.Bottleneck!.Actor);
    }

    [Fact]
    public void TransitTime_AddsToEveryHopButNotToCapacity()
    {
        CostModelSettings slow = Costs with { TransitNs = 50 };
        StressResult one = Run(1, VmmTopology.Single, ModuleTopology.Single, slow, count: 1_000);
        StressResult baseline = Run(1, VmmTopology.Single, ModuleTopology.Single, count: 1_000);

        // Four hops per paravirt operation: vCPU, module, VMM, module, vCPU.
        Assert.Equal(baseline.LatencyNs.P50 + (4 * 50), one.LatencyNs.P50);
        StressResult many = Run(64, VmmTopology.Single, ModuleTopology.Single, slow, count: 64 * 200);
        Assert.InRange(many.OpsPerSecond, 1e9 / Costs.VmmNs * 0.98, 1e9 / Costs.VmmNs * 1.02);
    }

    [Fact]
    public void SameSeed_SameReport()
    {
        StressResult a = Run(8, VmmTopology.Single, ModuleTopology.PerVcpu, count: 2_000);
        StressResult b = Run(8, VmmTopology.Single, ModuleTopology.PerVcpu, count: 2_000);
        Assert.Equal(a.OpsPerSecond, b.OpsPerSecond);
        Assert.Equal(a.VcpuOps, b.VcpuOps);
        Assert.Equal(a.Contention!.Actors, b.Contention!.Actors);
    }

    [Fact]
    public void RealTime_ReportIsMeasured()
    {
        StressResult r = StressRunner.Run(new StressOptions { Op = StressOp.Pio, Path = IoPath.Paravirt, Vcpus = 2, Count = 2_000 });
        ContentionReport report = r.Contention!;
        Assert.False(report.Modelled);
        ActorLoad vmm = Assert.Single(report.Actors, a => a.Actor == "vmm");
        Assert.True(vmm.Messages >= 2_000);
        Assert.True(vmm.BusyNs > 0);
        Assert.InRange(vmm.Utilization, 0.0, 1.0);
        Assert.Equal(2, report.Actors.Count(a => a.Actor.StartsWith("vcpu/", StringComparison.Ordinal)));
        ActorLoad com1 = Assert.Single(report.Devices, d => d.Actor == "device/com1");
        Assert.True(com1.Messages >= 2_000);
    }
}
