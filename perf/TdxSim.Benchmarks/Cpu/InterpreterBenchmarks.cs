using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Toolchains.InProcess.Emit;

namespace TdxSim.Benchmarks.Cpu;

/// <summary>
/// The interpreter on the crc32 anchor (~187 M guest instructions per run). Run with
/// <c>dotnet run -c Release --project perf/TdxSim.Benchmarks -- --filter '*InterpreterBenchmarks*'</c>;
/// <c>compare-anchors.sh</c> puts the result beside native and qemu-x86_64 as ratios.
/// In-process toolchain: BenchmarkDotNet 0.14.0 cannot generate a net10.0 child project.
/// </summary>
[MemoryDiagnoser]
[Config(typeof(InProcessConfig))]
public class InterpreterBenchmarks
{
    private Crc32Workload? _workload;

    /// <summary>Paging off (linear = guest-physical) or on (4-level identity tables of 4 KiB pages, through the TLB).</summary>
    [Params(false, true)]
    public bool Paging { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _workload = new Crc32Workload(Crc32Workload.FindElf(), Paging);
        _workload.Prepare();
        Check(_workload.Run());
    }

    [GlobalCleanup]
    public void Cleanup() => _workload?.Dispose();

    /// <summary>One full run of the guest; the result is checked after the measured call returns.</summary>
    [Benchmark(Description = "crc32-guest (interpreter)")]
    public ulong Crc32Guest()
    {
        ulong retired = _workload!.Run();
        if (!_workload.PrintedExpected)
        {
            throw new InvalidOperationException($"crc32 guest printed '{_workload.Output}', expected '{Crc32Workload.ExpectedOutput}'");
        }

        return retired;
    }

    private void Check(ulong retired)
    {
        if (!_workload!.PrintedExpected || retired == 0)
        {
            throw new InvalidOperationException($"crc32 guest printed '{_workload.Output}'");
        }
    }

    private sealed class InProcessConfig : ManualConfig
    {
        public InProcessConfig()
        {
            AddJob(Job.Default
                .WithToolchain(InProcessEmitToolchain.Instance)
                .WithWarmupCount(4)
                .WithIterationCount(10)
                .WithInvocationCount(1)
                .WithUnrollFactor(1));
        }
    }
}
