using System.Globalization;
using System.Text.Json;

namespace TdxSim.Sweep;

/// <summary>One group of failed runs: those with one exit status and reason.</summary>
/// <param name="Status">The exit status.</param>
/// <param name="Reason">The reason.</param>
/// <param name="Runs">How many runs.</param>
/// <param name="First">The first failing run (lowest seed, then vCPU count).</param>
public sealed record FailureGroup(int Status, string Reason, int Runs, RunResult First);

/// <summary>The sweep's summary: text for people, JSON for scripts (<c>--json</c>).</summary>
public static class SweepReport
{
    /// <summary>Failures grouped by status and reason, the most frequent first.</summary>
    public static IReadOnlyList<FailureGroup> Failures(IEnumerable<RunResult> results)
        => [.. results.Where(r => !r.Passed)
            .GroupBy(r => (r.Status, r.Reason))
            .Select(g => new FailureGroup(g.Key.Status, g.Key.Reason, g.Count(), g.OrderBy(r => r.Key).First()))
            .OrderByDescending(g => g.Runs).ThenBy(g => g.First.Key)];

    /// <summary>The text summary.</summary>
    public static void WriteText(TextWriter output, SweepPlan plan, SweepOutcome outcome, string where)
    {
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(plan);
        ArgumentNullException.ThrowIfNull(outcome);
        int failed = outcome.Failed;
        int ran = outcome.Results.Count - outcome.Resumed;
        double seconds = outcome.Elapsed.TotalSeconds;
        var c = CultureInfo.InvariantCulture;
        output.WriteLine(string.Create(c,
            $"sweep {plan.Scenario.Argument}: seeds {plan.Seeds}, vCPUs {string.Join(",", plan.VcpuCounts)}: {outcome.Results.Count} runs, {outcome.Results.Count - failed} passed, {failed} failed"));
        output.WriteLine(string.Create(c,
            $"  {ran} run{(ran == 1 ? string.Empty : "s")} {where} in {seconds:0.00} s ({(seconds > 0 ? ran / seconds : 0):0.0} runs/s){(outcome.Resumed > 0 ? $", {outcome.Resumed} taken from the results file" : string.Empty)}{(outcome.Reassigned > 0 ? $", {outcome.Reassigned} given again after a worker was lost" : string.Empty)}{(outcome.DuplicatesDropped > 0 ? $", {outcome.DuplicatesDropped} duplicate results dropped" : string.Empty)}"));
        IReadOnlyList<FailureGroup> groups = Failures(outcome.Results);
        if (groups.Count == 0)
        {
            return;
        }

        output.WriteLine("failures by reason:");
        foreach (FailureGroup g in groups)
        {
            output.WriteLine(string.Create(c,
                $"  status {g.Status} {g.Reason}: {g.Runs} run{(g.Runs == 1 ? string.Empty : "s")}, first at seed {g.First.Seed} with {g.First.Vcpus} vCPU{(g.First.Vcpus == 1 ? string.Empty : "s")}: {g.First.Detail}"));
            output.WriteLine($"    replay: {plan.ReplayCommand(g.First.Key)}");
        }
    }

    /// <summary>The JSON document of <c>--json</c>: every run, then the summary.</summary>
    public static void WriteJson(Stream output, SweepPlan plan, SweepOutcome outcome)
    {
        ArgumentNullException.ThrowIfNull(plan);
        ArgumentNullException.ThrowIfNull(outcome);
        using var json = new Utf8JsonWriter(output, new JsonWriterOptions { Indented = true });
        json.WriteStartObject();
        json.WriteString("scenario", plan.Scenario.Argument);
        json.WriteString("seeds", plan.Seeds.ToString());
        json.WriteStartArray("vcpus");
        foreach (int v in plan.VcpuCounts)
        {
            json.WriteNumberValue(v);
        }

        json.WriteEndArray();
        json.WriteStartArray("runs");
        foreach (RunResult r in outcome.Results)
        {
            RunJson.Write(json, r, plan);
        }

        json.WriteEndArray();
        int ran = outcome.Results.Count - outcome.Resumed;
        double seconds = outcome.Elapsed.TotalSeconds;
        json.WriteStartObject("summary");
        json.WriteNumber("runs", outcome.Results.Count);
        json.WriteNumber("passed", outcome.Results.Count - outcome.Failed);
        json.WriteNumber("failed", outcome.Failed);
        json.WriteNumber("resumed", outcome.Resumed);
        json.WriteNumber("reassigned", outcome.Reassigned);
        json.WriteNumber("duplicates_dropped", outcome.DuplicatesDropped);
        json.WriteNumber("seconds", Math.Round(seconds, 3));
        json.WriteNumber("runs_per_sec", Math.Round(seconds > 0 ? ran / seconds : 0, 3));
        json.WriteStartArray("failures");
        foreach (FailureGroup g in Failures(outcome.Results))
        {
            json.WriteStartObject();
            json.WriteNumber("status", g.Status);
            json.WriteString("reason", g.Reason);
            json.WriteNumber("runs", g.Runs);
            json.WriteNumber("first_seed", g.First.Seed);
            json.WriteNumber("first_vcpus", g.First.Vcpus);
            json.WriteString("detail", g.First.Detail);
            json.WriteString("replay", plan.ReplayCommand(g.First.Key));
            json.WriteEndObject();
        }

        json.WriteEndArray();
        json.WriteEndObject();
        json.WriteEndObject();
        json.Flush();
        output.WriteByte((byte)'\n');
    }
}
