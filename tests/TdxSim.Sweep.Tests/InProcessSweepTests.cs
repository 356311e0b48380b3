using System.Text.Json;

namespace TdxSim.Sweep.Tests;

[Collection("sweep")]
public sealed class InProcessSweepTests : IDisposable
{
    private readonly DirectoryInfo _folder = Directory.CreateTempSubdirectory("tdxsim-sweep-");

    [Fact]
    public void Sweep_SixSeeds_EveryRunOnceDeterministicAndReplayable()
    {
        string results = Path.Combine(_folder.FullName, "r.jsonl");
        Outcome first = Tdxsim.InProcess("sweep", "smp-hello", "--seeds", "1..6", "--json", "--out", results);
        Assert.True(first.Status == 0, first.Stderr);
        using JsonDocument json = JsonDocument.Parse(first.Stdout);
        JsonElement[] runs = [.. json.RootElement.GetProperty("runs").EnumerateArray()];
        Assert.Equal([1UL, 2, 3, 4, 5, 6], runs.Select(r => r.GetProperty("seed").GetUInt64()));
        Assert.All(runs, r =>
        {
            Assert.Equal(0, r.GetProperty("status").GetInt32());
            Assert.Equal(2, r.GetProperty("vcpus").GetInt32());
            Assert.Matches("^[0-9a-f]{64}$", r.GetProperty("log_sha256").GetString());
            Assert.Matches("^[0-9a-f]{64}$", r.GetProperty("state_sha256").GetString());
            Assert.True(r.GetProperty("instructions").GetUInt64() > 0);
            Assert.True(r.GetProperty("virtual_ns").GetInt64() > 0);
        });

        // Seeds give other interleavings: the logs differ.
        Assert.True(runs.Select(r => r.GetProperty("log_sha256").GetString()).Distinct().Count() > 1);
        Assert.Equal(6, Tdxsim.Lines(results).Count);
        Assert.Contains("6/6 runs", first.Stderr, StringComparison.Ordinal);

        // The replay command writes the log and final state whose hashes the sweep reported.
        JsonElement third = runs[2];
        Assert.Equal("tdxsim run smp-hello --vcpus 2 --deterministic --seed 3", third.GetProperty("replay").GetString());
        string log = Path.Combine(_folder.FullName, "replay.jsonl"), state = Path.Combine(_folder.FullName, "replay.json");
        Outcome replay = Tdxsim.InProcess("run", "smp-hello", "--vcpus", "2", "--deterministic", "--seed", "3", "--log", log, "--dump-state", state, "--quiet");
        Assert.Equal(0, replay.Status);
        Assert.Equal(third.GetProperty("log_sha256").GetString(), Sha256(log));
        Assert.Equal(third.GetProperty("state_sha256").GetString(), Sha256(state));
    }

    [Fact]
    public void Resume_AfterACoordinatorStoppedMidLine_RunsOnlyWhatIsMissing()
    {
        string results = Path.Combine(_folder.FullName, "resume.jsonl");
        Assert.Equal(0, Tdxsim.InProcess("sweep", "smp-hello", "--seeds", "1..4", "--out", results).Status);
        string[] lines = File.ReadAllLines(results);
        var kept = lines.OrderBy(l => l, StringComparer.Ordinal).Take(2).ToList();

        // Two whole lines, then half of a third: as a coordinator killed while appending leaves the file.
        File.WriteAllText(results, string.Join('\n', kept) + "\n" + lines.First(l => !kept.Contains(l))[..40]);
        Outcome resumed = Tdxsim.InProcess("sweep", "smp-hello", "--seeds", "1..4", "--out", results, "--resume", "--json");
        Assert.True(resumed.Status == 0, resumed.Stderr);
        using JsonDocument json = JsonDocument.Parse(resumed.Stdout);
        Assert.Equal(2, json.RootElement.GetProperty("summary").GetProperty("resumed").GetInt32());
        Assert.Equal(4, json.RootElement.GetProperty("summary").GetProperty("runs").GetInt32());
        List<JsonElement> after = Tdxsim.Lines(results);
        Assert.Equal(4, after.Count);
        Assert.Equal(4, after.Select(Tdxsim.Key).Distinct().Count());
        Assert.Equal(
            lines.Select(l => JsonDocument.Parse(l).RootElement.GetProperty("log_sha256").GetString()).Order(),
            after.Select(r => r.GetProperty("log_sha256").GetString()).Order());
    }

    [Fact]
    public void Failures_GroupedByReason_WithTheFirstFailingSeedAndExitOne()
    {
        string scenario = Path.Combine(_folder.FullName, "short.yaml");
        File.WriteAllText(scenario, "guest: builtin:smp-hello\nvcpus: 2\nmax_instructions: 500\n");
        Outcome sweep = Tdxsim.InProcess("sweep", scenario, "--seeds", "10..11", "--vcpus", "1,2");
        Assert.Equal(1, sweep.Status);
        Assert.Contains("4 runs, 0 passed, 4 failed", sweep.Stdout, StringComparison.Ordinal);
        Assert.Contains("status 6 instruction-limit: 4 runs, first at seed 10 with 1 vCPU: vCPU 0 reached its instruction limit of 500", sweep.Stdout, StringComparison.Ordinal);
        Assert.Contains($"replay: tdxsim run {scenario} --vcpus 1 --deterministic --seed 10", sweep.Stdout, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("empty seed range", "sweep", "smp-hello", "--seeds", "9..3")]
    [InlineData("not a number", "sweep", "smp-hello", "--seeds", "one..two")]
    [InlineData("--resume needs --out", "sweep", "smp-hello", "--seeds", "1..2", "--resume")]
    [InlineData("--min-workers needs --cluster", "sweep", "smp-hello", "--seeds", "1..2", "--min-workers", "2")]
    [InlineData("HOST:PORT", "sweep", "smp-hello", "--seeds", "1..2", "--cluster", "nowhere")]
    [InlineData("no such scenario", "sweep", "missing.yaml", "--seeds", "1..2")]
    [InlineData("given twice", "sweep", "smp-hello", "--seeds", "1..2", "--vcpus", "2,2")]
    [InlineData("HOST:PORT", "worker", "--join", "127.0.0.1")]
    public void BadInput_ExitTwoWithOneLine(string mention, params string[] args)
        => Tdxsim.InProcess(args).AssertUsageError(mention);

    [Fact]
    public void Join_NobodyListening_ExitTwoAfterItsTimeout()
    {
        int port = Tdxsim.FreePort();
        var clock = System.Diagnostics.Stopwatch.StartNew();
        Outcome worker = Tdxsim.InProcess("worker", "--join", $"127.0.0.1:{port}", "--join-timeout", "2");
        worker.AssertUsageError($"cannot join the sweep at 127.0.0.1:{port}", "within 2 s");
        Assert.InRange(clock.Elapsed.TotalSeconds, 1.9, 20);
    }

    [Fact]
    public void PortInUse_CoordinatorAndWorker_ExitTwoWithOneLine()
    {
        using var taken = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        taken.Start();
        int port = ((System.Net.IPEndPoint)taken.LocalEndpoint).Port;
        Tdxsim.InProcess("sweep", "smp-hello", "--seeds", "1..2", "--cluster", $"127.0.0.1:{port}")
            .AssertUsageError($"cannot listen on 127.0.0.1:{port}", "in use");
        Tdxsim.InProcess("worker", "--join", "127.0.0.1:1", "--port", port.ToString(System.Globalization.CultureInfo.InvariantCulture))
            .AssertUsageError($"cannot listen on 127.0.0.1:{port}", "in use");
    }

    public void Dispose()
    {
        try
        {
            _folder.Delete(recursive: true);
        }
        catch (IOException)
        {
        }
    }

    private static string Sha256(string path) => Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(File.ReadAllBytes(path)));
}
