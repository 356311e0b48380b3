namespace TdxSim.Cli.Inspect;

/// <summary>The options of <c>tdxsim inspect LOG.jsonl</c> (contract section 5).</summary>
/// <param name="LogPath">The message log to read.</param>
public sealed record InspectOptions(string LogPath)
{
    /// <summary><c>--by</c>: the table's key; <see langword="null"/> means the default, <see cref="InspectKey.Subfn"/>.</summary>
    public InspectKey? By { get; init; }

    /// <summary><c>--vcpu N</c>: only events (or, with <see cref="Follow"/>, messages) of this vCPU.</summary>
    public int? Vcpu { get; init; }

    /// <summary><c>--follow CORR</c>: print every message of one request instead of a table.</summary>
    public long? Follow { get; init; }

    /// <summary><c>--json</c>: print the same data as one JSON object.</summary>
    public bool Json { get; init; }

    /// <summary>The key used for the table.</summary>
    public InspectKey EffectiveKey => By ?? InspectKey.Subfn;
}
