using TdxSim.Machine.Tests.Cli;
using TdxSim.Machine.Tests.Logging;

namespace TdxSim.Machine.Tests.Contention;

/// <summary>The Perfetto trace shows a message's queue wait and its handling as separate slices on the receiver's track.</summary>
public sealed class TraceWaitSliceTests : IDisposable
{
    private readonly CliHarness _files = new();

    public void Dispose() => _files.Dispose();

    [Fact]
    public void SharedVmm_TraceHasWaitSlices_FollowedByTheHandlingSliceOnTheSameTrack()
    {
        string trace = Path.Combine(_files.Folder, "run.json");
        string log = Path.Combine(_files.Folder, "run.jsonl");
        CliResult r = CliHarness.Run("stress", "--op", "pio", "--path", "paravirt", "--vcpus", "4", "--count", "100", "--deterministic", "--seed", "1", "--trace", trace, "--log", log);
        Assert.True(r.Status == 0, r.Stderr);
        List<TraceEvent> events = TraceValidator.Validate(File.ReadAllText(trace));

        List<TraceEvent> waits = [.. events.Where(e => e.Ph == "X" && e.Cat == "wait")];
        Assert.NotEmpty(waits);
        Assert.All(waits, w => Assert.True(w.DurNs > 0));
        Assert.Contains(waits, w => w.Pid == 3); // the one VMM, shared by four vCPUs, queues
        Assert.Contains(events, e => e.Ph == "X" && e.Cat == "tdvmcall" && e.Pid == 3);
        Assert.Contains(events, e => e.Ph == "X" && e.Cat == "tdx-module" && e.Pid == 2);

        // Each wait ends where the handling of the same message (same seq) starts, on the same track.
        foreach (TraceEvent w in waits)
        {
            long seq = w.Args.GetProperty("seq").GetInt64();
            TraceEvent handling = Assert.Single(events, e => e.Ph == "X" && e.Cat != "wait" && e.Pid == w.Pid && e.Tid == w.Tid
                && e.Args.TryGetProperty("seq", out var s) && s.GetInt64() == seq);
            Assert.Equal(w.EndNs, handling.TsNs);
            Assert.Equal(w.DurNs, w.Args.GetProperty("wait_ns").GetInt64());
        }

        // The VMM's total wait in the trace is the total of its messages' wait_ns in the log.
        long logWait = File.ReadLines(log).Where(l => l.Contains("\"type\":\"TdVmcallRequested\"", StringComparison.Ordinal))
            .Sum(l => long.Parse(System.Text.RegularExpressions.Regex.Match(l, "\"wait_ns\":(\\d+)").Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal(logWait, waits.Where(w => w.Pid == 3).Sum(w => w.DurNs));
    }
}
