namespace TdxSim.Cli.Inspect;

/// <summary>One row of the inspect table.</summary>
/// <param name="Key">The key, e.g. <c>Instruction.IO</c> or <c>0x3f8:OUT</c>.</param>
/// <param name="Statistics">The durations of the key's events.</param>
/// <param name="SamplesPercent">Share of all samples in the table.</param>
/// <param name="TimePercent">Share of the table's total time.</param>
public sealed record InspectRow(string Key, EventStatistics Statistics, double SamplesPercent, double TimePercent);

/// <summary>The analysed log: what the table and <c>--json</c> print.</summary>
/// <param name="LogPath">The log file as given.</param>
/// <param name="Key">The key.</param>
/// <param name="Vcpu">The <c>--vcpu</c> filter.</param>
/// <param name="Rows">Rows in print order.</param>
/// <param name="TotalSamples">Events counted.</param>
/// <param name="TotalNs">Their total duration.</param>
/// <param name="Incomplete">Events of this kind whose reply is not in the log (not counted).</param>
/// <param name="Unmatched">Protocol messages that fit no request (e.g. replies to requests from before the log began).</param>
/// <param name="Messages">Log lines read.</param>
public sealed record InspectReport(
    string LogPath,
    InspectKey Key,
    int? Vcpu,
    IReadOnlyList<InspectRow> Rows,
    long TotalSamples,
    long TotalNs,
    long Incomplete,
    long Unmatched,
    long Messages)
{
    /// <summary>What a sample is, for each key: the column title and how its time is measured.</summary>
    public static (string Title, string Measures) Describe(InspectKey key) => key switch
    {
        InspectKey.Subfn => ("TDVMCALL", "TdVmcallRequested delivered to the VMM -> TdVmcallCompleted delivered to the TDX module"),
        InspectKey.Leaf => ("TDCALL", "TdcallRequested delivered to the TDX module -> TdcallCompleted delivered to the vCPU"),
        InspectKey.Reason => ("TD-EXIT", "TdExited delivered to the TDX module -> last message of the request delivered to the vCPU"),
        InspectKey.Port => ("IO Port Access", "Instruction.IO TdVmcallRequested delivered to the VMM -> TdVmcallCompleted delivered to the TDX module"),
        InspectKey.Gpa => ("MMIO Access", "#VE.RequestMMIO TdVmcallRequested delivered to the VMM -> TdVmcallCompleted delivered to the TDX module"),
        InspectKey.Vcpu => ("VCPU", "first message of a TD exit or paravirt TDCALL delivered to the TDX module -> last reply delivered to the vCPU"),
        InspectKey.Actor => ("ACTOR", "wait_ns and service_ns of each message, by receiving actor"),
        _ => throw new ArgumentOutOfRangeException(nameof(key), key, "Unknown inspect key."),
    };
}
