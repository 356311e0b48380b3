using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Diagnosers;

namespace TdxSim.Benchmarks.Actors;

/// <summary>
/// Shared settings of the actor benchmarks: allocation per operation (Tell must show 0 B), the median for the
/// latency targets, and Op/s, which reads directly as messages/s for the per-message benchmarks.
/// </summary>
/// <remarks>
/// Run: <c>dotnet run -c Release --project perf/TdxSim.Benchmarks -- --filter '*Benchmarks.Actors*' --job short</c>.
/// </remarks>
public sealed class ActorBenchmarkConfig : ManualConfig
{
    public ActorBenchmarkConfig()
    {
        AddDiagnoser(MemoryDiagnoser.Default);
        AddColumn(StatisticColumn.Median, StatisticColumn.OperationsPerSecond);
    }
}
