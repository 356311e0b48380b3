using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Diagnosers;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Toolchains.InProcess.Emit;

namespace TdxSim.Benchmarks.Actors;

/// <summary>
/// In-process toolchain: BenchmarkDotNet 0.14.0 does not know the net10.0 moniker, so the default
/// out-of-process toolchain cannot generate its host project. Jobs given on the command line
/// (<c>--job short</c>) are combined with this toolchain.
/// </summary>
public sealed class ActorBenchmarkConfig : ManualConfig
{
    public ActorBenchmarkConfig()
    {
        AddJob(Job.Default.WithToolchain(InProcessEmitToolchain.Instance).AsDefault());
        AddDiagnoser(MemoryDiagnoser.Default);
    }
}
