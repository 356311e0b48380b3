using TdxSim.Machine.Scenarios;

namespace TdxSim.Cli;

/// <summary>Option values parsed as contract section 2 says: decimal or 0x hex; sizes with K, M, G; file paths.</summary>
internal static class CliNumbers
{
    public static ulong Number(string option, string text)
        => NumberParser.TryParseNumber(text, out ulong v) ? v : throw new UsageException($"{option}: '{text}' is not a number (decimal or 0x hex)");

    /// <summary>A file path: not empty and without NUL, which no file system accepts.</summary>
    public static string FilePath(string option, string text)
        => string.IsNullOrWhiteSpace(text) || text.Contains('\0', StringComparison.Ordinal)
            ? throw new UsageException($"{option}: '{text.Replace("\0", "\\0", StringComparison.Ordinal)}' is not a file path")
            : text;

    public static ulong Positive(string option, string text)
    {
        ulong v = Number(option, text);
        return v > 0 ? v : throw new UsageException($"{option}: must be greater than zero");
    }

    public static int Vcpus(string option, string text)
    {
        ulong v = Number(option, text);
        return v is >= 1 and <= Scenario.MaxVcpus ? (int)v : throw new UsageException($"{option}: must be between 1 and {Scenario.MaxVcpus}, not {v}");
    }

    public static ulong Memory(string option, string text)
    {
        if (!NumberParser.TryParseSize(text, out ulong v))
        {
            throw new UsageException($"{option}: '{text}' is not a size (a number with an optional K, M or G suffix)");
        }

        return MachineLimits.CheckMemory(v) is { } problem ? throw new UsageException($"{option}: {problem}") : v;
    }
}
