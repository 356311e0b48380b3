using System.CommandLine;
using Akka.Configuration;
using TdxSim.Runtime.Configuration;

namespace TdxSim.Cli;

/// <summary>
/// <c>--akka-config FILE</c>: the user's HOCON, laid over the scenario's <c>akka</c> key, which is laid over TdxSim's
/// embedded default (<c>src/TdxSim.Runtime/Configuration/tdxsim.conf</c>).
/// </summary>
internal static class AkkaConfigOption
{
    public static Option<string?> Create()
        => new("--akka-config") { Description = "Akka.NET HOCON file laid over TdxSim's default configuration" };

    /// <summary>The file's configuration over <paramref name="scenario"/>'s, or the scenario's alone.</summary>
    /// <exception cref="UsageException">The file cannot be read or is not HOCON.</exception>
    public static Config? Read(string? path, Config? scenario)
    {
        if (path is null)
        {
            return scenario;
        }

        Config file;
        try
        {
            file = RuntimeConfig.ParseUserFile(CliNumbers.FilePath("--akka-config", path));
        }
        catch (RuntimeConfigException e)
        {
            throw new UsageException($"--akka-config: {e.Message}", e);
        }

        return scenario is null ? file : file.WithFallback(scenario);
    }
}
