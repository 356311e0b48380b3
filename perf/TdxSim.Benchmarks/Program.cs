using BenchmarkDotNet.Running;

namespace TdxSim.Benchmarks;

/// <summary>Entry point: <c>dotnet run -c Release --project perf/TdxSim.Benchmarks -- --filter '*'</c>.</summary>
public static class Program
{
    /// <summary>Runs the benchmarks selected on the command line.</summary>
    public static void Main(string[] args) => BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
}
