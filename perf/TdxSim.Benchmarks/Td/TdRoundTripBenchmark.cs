using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Toolchains.InProcess.Emit;
using TdxSim.Images.Guests;
using TdxSim.Machine.Stress;

namespace TdxSim.Benchmarks.Td;

/// <summary>
/// Whole-TD round trips: one vCPU repeats a device access through the #VE path (guest instruction → TD exit →
/// TDX module → #VE → guest kernel → TDG.VP.VEINFO.GET → TDG.VP.VMCALL → VMM → device and back: 8 messages)
/// or the paravirt path (TDCALL → module → VMM and back: 4 messages). Each invocation runs a fresh TD of
/// <see cref="OpsPerInvoke"/> operations, so the per-operation figures include the TD's start-up amortised
/// over them. Run with <c>dotnet run -c Release --project perf/TdxSim.Benchmarks -- --filter '*TdRoundTrip*'</c>;
/// <c>perf/compare-td-anchors.sh</c> puts the result beside a real KVM exit.
/// </summary>
[MemoryDiagnoser]
[Config(typeof(TdConfig))]
public class TdRoundTripBenchmark
{
    /// <summary>Operations per benchmark invocation.</summary>
    public const int OpsPerInvoke = 50_000;

    /// <summary>The device access.</summary>
    [Params(StressOp.Pio, StressOp.Mmio)]
    public StressOp Op { get; set; }

    /// <summary>#VE or paravirt.</summary>
    [Params(IoPath.Ve, IoPath.Paravirt)]
    public IoPath Path { get; set; }

    /// <summary>One TD running <see cref="OpsPerInvoke"/> round trips on one vCPU.</summary>
    [Benchmark(OperationsPerInvoke = OpsPerInvoke)]
    public long RoundTrip()
    {
        StressResult r = StressRunner.Run(new StressOptions { Op = Op, Path = Path, Count = OpsPerInvoke, Warmup = 0 });
        return r.Ops == OpsPerInvoke && r.ExitStatus == 0
            ? r.Ops
            : throw new InvalidOperationException($"stress run ended with {r.ExitStatus} ({r.Reason}) after {r.Ops} ops");
    }

    private sealed class TdConfig : ManualConfig
    {
        public TdConfig()
        {
            AddJob(Job.Default
                .WithToolchain(InProcessEmitToolchain.Instance)
                .WithWarmupCount(2)
                .WithIterationCount(8)
                .WithInvocationCount(1)
                .WithUnrollFactor(1));
        }
    }
}
