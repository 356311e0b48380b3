using System.Globalization;
using TdxSim.Machine.Scenarios;

namespace TdxSim.Sweep;

/// <summary>One run of a sweep: a seed and a vCPU count. Every key is reported exactly once.</summary>
/// <param name="Seed">The deterministic dispatcher's seed.</param>
/// <param name="Vcpus">The number of vCPUs.</param>
public readonly record struct RunKey(ulong Seed, int Vcpus) : IComparable<RunKey>
{
    /// <inheritdoc/>
    public int CompareTo(RunKey other) => Seed != other.Seed ? Seed.CompareTo(other.Seed) : Vcpus.CompareTo(other.Vcpus);

    /// <inheritdoc/>
    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"seed {Seed}, {Vcpus} vCPU{(Vcpus == 1 ? string.Empty : "s")}");
}

/// <summary>An inclusive range of seeds, <c>A..B</c>.</summary>
/// <param name="First">The first seed.</param>
/// <param name="Last">The last seed (inclusive).</param>
public sealed record SeedRange(ulong First, ulong Last)
{
    /// <summary>The most runs one sweep plans (seeds times vCPU counts).</summary>
    public const ulong MaxRuns = 10_000_000;

    /// <summary>Seeds in the range.</summary>
    public ulong Count => Last - First + 1;

    /// <summary>Parses <c>A..B</c> (decimal or 0x hex, A &lt;= B) or a single seed <c>N</c>.</summary>
    /// <exception cref="FormatException">The text is not such a range; the message says why.</exception>
    public static SeedRange Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        string[] parts = text.Split("..", 2);
        if (!NumberParser.TryParseNumber(parts[0].Trim(), out ulong first))
        {
            throw new FormatException($"'{text}' is not a seed range: '{parts[0]}' is not a number (write A..B, e.g. 1..1000)");
        }

        ulong last = first;
        if (parts.Length == 2 && !NumberParser.TryParseNumber(parts[1].Trim(), out last))
        {
            throw new FormatException($"'{text}' is not a seed range: '{parts[1]}' is not a number (write A..B, e.g. 1..1000)");
        }

        if (last < first)
        {
            throw new FormatException($"'{text}' is an empty seed range: {last} is below {first} (write A..B with A <= B)");
        }

        if (last - first >= MaxRuns)
        {
            throw new FormatException($"'{text}' holds more than {MaxRuns} seeds; split the sweep");
        }

        return new SeedRange(first, last);
    }

    /// <inheritdoc/>
    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"{First}..{Last}");
}

/// <summary>What a sweep runs: a scenario, its seeds and its vCPU counts.</summary>
/// <param name="Scenario">The scenario as every node loads it.</param>
/// <param name="Seeds">The seeds.</param>
/// <param name="VcpuCounts">The vCPU counts, each run for every seed (the scenario's own count when none was given).</param>
public sealed record SweepPlan(ScenarioSpec Scenario, SeedRange Seeds, IReadOnlyList<int> VcpuCounts)
{
    /// <summary>Runs in the plan.</summary>
    public ulong Total => Seeds.Count * (ulong)VcpuCounts.Count;

    /// <summary>Every run, seed by seed, each seed's vCPU counts in the order given.</summary>
    public IEnumerable<RunKey> Keys()
    {
        for (ulong seed = Seeds.First; ; seed++)
        {
            foreach (int vcpus in VcpuCounts)
            {
                yield return new RunKey(seed, vcpus);
            }

            if (seed == Seeds.Last)
            {
                yield break;
            }
        }
    }

    /// <summary>Whether <paramref name="key"/> is one of the plan's runs.</summary>
    public bool Contains(RunKey key) => key.Seed >= Seeds.First && key.Seed <= Seeds.Last && VcpuCounts.Contains(key.Vcpus);

    /// <summary>The command that replays one run: <c>tdxsim run SCENARIO --vcpus N --deterministic --seed S</c>.</summary>
    public string ReplayCommand(RunKey key) => string.Create(
        CultureInfo.InvariantCulture, $"tdxsim run {ShellWord(Scenario.Argument)} --vcpus {key.Vcpus} --deterministic --seed {key.Seed}");

    private static string ShellWord(string word)
        => word.Length > 0 && word.All(c => char.IsAsciiLetterOrDigit(c) || c is '/' or '.' or '-' or '_' or '+' or ':' or '=' or ',')
            ? word
            : "'" + word.Replace("'", "'\\''", StringComparison.Ordinal) + "'";
}
