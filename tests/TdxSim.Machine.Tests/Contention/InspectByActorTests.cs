using System.Text.Json;
using TdxSim.Cli.Inspect;
using TdxSim.Machine.Tests.Cli;

namespace TdxSim.Machine.Tests.Contention;

/// <summary><c>tdxsim inspect LOG --by actor</c> and the log's optional <c>wait_ns</c> / <c>service_ns</c> fields.</summary>
public sealed class InspectByActorTests : IDisposable
{
    private readonly CliHarness _files = new();

    public void Dispose() => _files.Dispose();

    private static string Line(long seq, long t, string to, long wait, long service, string from = "vcpu/0") =>
        $$"""{"seq":{{seq}},"t_ns":{{t}},"vcpu":0,"from":"{{from}}","to":"{{to}}","type":"Ping","corr":{{seq}},"wait_ns":{{wait}},"service_ns":{{service}}}""";

    [Fact]
    public void HandMadeLog_GivesBusyWaitPercentilesAndQueue()
    {
        // vmm: three messages sent at 0, 10, 20 and started at 0, 100, 200: waits 0, 90, 180; at the start of the
        // second (t=100) the second and third had arrived and not started: a queue of 2.
        string log = _files.File("a.jsonl", string.Join('\n',
            Line(1, 0, "vmm", 0, 100),
            Line(2, 100, "vmm", 90, 100),
            Line(3, 150, "tdx-module", 5, 7),
            Line(4, 200, "vmm", 180, 100)) + "\n");
        CliResult r = CliHarness.Run("inspect", log, "--by", "actor", "--json");
        Assert.True(r.Status == 0, r.Stderr);
        using JsonDocument doc = JsonDocument.Parse(r.StdoutText);
        JsonElement actors = doc.RootElement.GetProperty("actors");
        Assert.Equal("actor", doc.RootElement.GetProperty("by").GetString());
        JsonElement vmm = actors[0];
        Assert.Equal("vmm", vmm.GetProperty("actor").GetString());
        Assert.Equal(3, vmm.GetProperty("messages").GetInt64());
        Assert.Equal(300, vmm.GetProperty("busy_ns").GetInt64());
        Assert.Equal(90, vmm.GetProperty("wait_ns").GetProperty("p50").GetInt64());
        Assert.Equal(180, vmm.GetProperty("wait_ns").GetProperty("p99").GetInt64());
        Assert.Equal(180, vmm.GetProperty("wait_ns").GetProperty("max").GetInt64());
        Assert.Equal(2, vmm.GetProperty("max_queue").GetInt32());
        JsonElement module = actors[1];
        Assert.Equal("tdx-module", module.GetProperty("actor").GetString());
        Assert.Equal(7, module.GetProperty("busy_ns").GetInt64());
        Assert.Equal(1, module.GetProperty("max_queue").GetInt32());

        CliResult table = CliHarness.Run("inspect", log, "--by", "actor");
        Assert.Equal(0, table.Status);
        string vmmLine = table.StdoutText.Split('\n').Single(l => l.TrimStart().StartsWith("vmm ", StringComparison.Ordinal));
        Assert.Matches(@"vmm\s+3\s+0\.30us\s+\S+\s+0\.09us\s+0\.18us\s+0\.18us\s+2$", vmmLine.TrimEnd());
    }

    [Fact]
    public void LogWithoutTheNewFields_CountsMessagesAndSaysWhy()
    {
        string log = _files.File("old.jsonl", """{"seq":1,"t_ns":0,"vcpu":0,"from":"vcpu/0","to":"vmm","type":"Ping","corr":1}""" + "\n");
        CliResult r = CliHarness.Run("inspect", log, "--by", "actor", "--json");
        Assert.Equal(0, r.Status);
        using JsonDocument doc = JsonDocument.Parse(r.StdoutText);
        JsonElement vmm = doc.RootElement.GetProperty("actors")[0];
        Assert.Equal(1, vmm.GetProperty("messages").GetInt64());
        Assert.Equal(JsonValueKind.Null, vmm.GetProperty("busy_ns").ValueKind);
        Assert.Contains("no wait_ns or service_ns", r.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void UnknownBy_IsExit2_NamingActorAmongTheKeys()
    {
        string log = _files.File("b.jsonl", Line(1, 0, "vmm", 0, 1) + "\n");
        CliResult r = CliHarness.Run("inspect", log, "--by", "actors");
        r.AssertUsageError("'actors'", "actor");
        Assert.True(InspectKeys.TryParse("ACTOR", out InspectKey key));
        Assert.Equal(InspectKey.Actor, key);
    }

    [Fact]
    public void DeterministicRun_LogBusyTimes_MatchTheRunsContentionReport()
    {
        string log = Path.Combine(_files.Folder, "run.jsonl");
        string json = Path.Combine(_files.Folder, "stress.json");
        CliResult run = CliHarness.Run("stress", "--op", "pio", "--path", "paravirt", "--vcpus", "2", "--count", "200", "--deterministic", "--seed", "3", "--json", "--log", log);
        Assert.True(run.Status == 0, run.Stderr);
        using JsonDocument stress = JsonDocument.Parse(run.StdoutText);
        var expected = stress.RootElement.GetProperty("actors").EnumerateArray()
            .ToDictionary(a => a.GetProperty("actor").GetString()!, a => (Messages: a.GetProperty("messages").GetInt64(), Busy: a.GetProperty("busy_ns").GetInt64()));

        // Every line of a recorded log carries both fields.
        string[] lines = File.ReadAllLines(log);
        Assert.NotEmpty(lines);
        Assert.All(lines, l => Assert.Contains("\"service_ns\":", l, StringComparison.Ordinal));
        Assert.All(lines, l => Assert.Contains("\"wait_ns\":", l, StringComparison.Ordinal));

        CliResult inspect = CliHarness.Run("inspect", log, "--by", "actor", "--json");
        Assert.True(inspect.Status == 0, inspect.Stderr);
        using JsonDocument doc = JsonDocument.Parse(inspect.StdoutText);
        JsonElement actors = doc.RootElement.GetProperty("actors");
        foreach (string name in new[] { "tdx-module", "vmm", "vcpu/0", "vcpu/1" })
        {
            JsonElement row = actors.EnumerateArray().Single(a => a.GetProperty("actor").GetString() == name);
            Assert.True(expected.ContainsKey(name), $"stress report lacks {name}");
            Assert.Equal(expected[name].Messages, row.GetProperty("messages").GetInt64());
            Assert.Equal(expected[name].Busy, row.GetProperty("busy_ns").GetInt64());
            Assert.True(row.GetProperty("max_queue").GetInt32() >= 1);
        }
    }
}
