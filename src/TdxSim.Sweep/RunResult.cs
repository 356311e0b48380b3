namespace TdxSim.Sweep;

/// <summary>What one run of a sweep found (contract section 11): one line of <c>--out</c>.</summary>
/// <param name="Seed">The seed.</param>
/// <param name="Vcpus">The vCPU count.</param>
/// <param name="Status">The run's exit status (that of <c>tdxsim run</c>).</param>
/// <param name="Reason">The short reason: halted, debug-exit, fatal, limit, internal-error, ...</param>
/// <param name="Detail">The one-line detail (the diagnostic of a fatal exit).</param>
/// <param name="Instructions">Instructions retired by every vCPU.</param>
/// <param name="VirtualNs">Virtual time at the end, in nanoseconds.</param>
/// <param name="LogSha256">SHA-256 of the message log, as <c>--log</c> would have written it.</param>
/// <param name="StateSha256">SHA-256 of the final state, as <c>--dump-state</c> would have written it.</param>
/// <param name="WallMs">Wall-clock milliseconds the run took on its worker.</param>
/// <param name="Worker">The node that ran it (its cluster address, or <c>local</c>).</param>
public sealed record RunResult(
    ulong Seed,
    int Vcpus,
    int Status,
    string Reason,
    string Detail,
    ulong Instructions,
    long VirtualNs,
    string LogSha256,
    string StateSha256,
    double WallMs,
    string Worker)
{
    /// <summary>The run's key.</summary>
    public RunKey Key => new(Seed, Vcpus);

    /// <summary>Whether the run exited 0.</summary>
    public bool Passed => Status == 0;

    /// <summary>Whether two runs of one key found the same thing (a deterministic run always does).</summary>
    public bool SameOutcome(RunResult other)
    {
        ArgumentNullException.ThrowIfNull(other);
        return Status == other.Status && Instructions == other.Instructions && VirtualNs == other.VirtualNs
            && LogSha256 == other.LogSha256 && StateSha256 == other.StateSha256;
    }
}
