using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace TdxSim.Sweep.Tests;

/// <summary>Sweeps over real processes on 127.0.0.1: a coordinator and its workers, one of them killed.</summary>
[Collection("sweep")]
public sealed partial class ClusterSweepTests : IDisposable
{
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(90);
    private readonly DirectoryInfo _folder = Directory.CreateTempSubdirectory("tdxsim-cluster-");

    [Fact]
    public void TwoWorkers_OneKilledMidSweep_FortyResultsOnceEachAsInProcess()
    {
        int port = Tdxsim.FreePort();
        string at = $"127.0.0.1:{port}";
        string results = Path.Combine(_folder.FullName, "cluster.jsonl");
        string hocon = HeartbeatConfig();
        using Child coordinator = Tdxsim.Spawn(null, "sweep", Tdxsim.SmpHello, "--seeds", "1..40", "--cluster", at, "--min-workers", "2", "--out", results, "--json", "--akka-config", hocon);

        // Each worker holds every result 300 ms before reporting it, so the one killed has runs in flight.
        var slow = new Dictionary<string, string> { ["TDXSIM_SWEEP_REPORT_DELAY_MS"] = "300" };
        using Child doomed = Tdxsim.Spawn(slow, "worker", "--join", at, "--slots", "2", "--akka-config", hocon);
        using Child survivor = Tdxsim.Spawn(slow, "worker", "--join", at, "--slots", "2", "--akka-config", hocon);
        WaitFor(() => File.Exists(results) && Tdxsim.Lines(results).Count >= 8, coordinator);
        doomed.Process.Kill(); // SIGKILL on Linux
        Outcome sweep = coordinator.Wait(Limit);
        Assert.True(sweep.Status == 0, sweep.Stderr);

        // The killed worker's runs in flight were given to the survivor.
        Match lost = LostLine().Match(sweep.Stderr);
        Assert.True(lost.Success, $"no lost-worker line; stderr: {sweep.Stderr}");
        Assert.True(int.Parse(lost.Groups["n"].Value, CultureInfo.InvariantCulture) >= 1, lost.Value);
        ulong requeued = ulong.Parse(lost.Groups["seed"].Value, CultureInfo.InvariantCulture);

        // 40 results, none twice, in the file and on stdout.
        List<JsonElement> lines = Tdxsim.Lines(results);
        Assert.Equal(40, lines.Count);
        Assert.Equal(40, lines.Select(Tdxsim.Key).Distinct().Count());
        Assert.Equal(Enumerable.Range(1, 40).Select(i => ((ulong)i, 2)), lines.Select(Tdxsim.Key).Order());
        using JsonDocument json = JsonDocument.Parse(sweep.Stdout);
        Assert.Equal(40, json.RootElement.GetProperty("runs").GetArrayLength());
        Assert.True(json.RootElement.GetProperty("summary").GetProperty("reassigned").GetInt32() >= 1);
        Outcome survived = survivor.Wait(TimeSpan.FromSeconds(30));
        Assert.Equal(0, survived.Status);
        Assert.Contains("is finished", survived.Stderr, StringComparison.Ordinal);

        // The same hashes as the in-process sweep.
        Outcome local = Tdxsim.InProcess("sweep", Path.Combine(Tdxsim.Root, Tdxsim.SmpHello), "--seeds", "1..40", "--json");
        Assert.True(local.Status == 0, local.Stderr);
        using JsonDocument localJson = JsonDocument.Parse(local.Stdout);
        var expected = localJson.RootElement.GetProperty("runs").EnumerateArray()
            .ToDictionary(Tdxsim.Key, r => (r.GetProperty("log_sha256").GetString(), r.GetProperty("state_sha256").GetString()));
        Assert.Equal(40, expected.Count);
        foreach (JsonElement run in lines)
        {
            Assert.Equal(expected[Tdxsim.Key(run)], (run.GetProperty("log_sha256").GetString(), run.GetProperty("state_sha256").GetString()));
        }

        // A seed the killed worker held, replayed with tdxsim run: the same log hash.
        JsonElement replayed = lines.Single(r => Tdxsim.Key(r) == (requeued, 2));
        Assert.Equal($"tdxsim run {Tdxsim.SmpHello} --vcpus 2 --deterministic --seed {requeued}", replayed.GetProperty("replay").GetString());
        string log = Path.Combine(_folder.FullName, "replay.jsonl");
        Outcome replay = Tdxsim.InProcess("run", Path.Combine(Tdxsim.Root, Tdxsim.SmpHello), "--vcpus", "2", "--deterministic",
            "--seed", requeued.ToString(CultureInfo.InvariantCulture), "--log", log, "--quiet");
        Assert.Equal(0, replay.Status);
        Assert.Equal(replayed.GetProperty("log_sha256").GetString(), Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(File.ReadAllBytes(log))));
    }

    [Fact]
    public void CoordinatorKilled_WorkerExitsOne_ResumeRunsTheRest_AnotherBuildRefused()
    {
        int port = Tdxsim.FreePort();
        string at = $"127.0.0.1:{port}";
        string results = Path.Combine(_folder.FullName, "restart.jsonl");
        string hocon = HeartbeatConfig();
        var slow = new Dictionary<string, string> { ["TDXSIM_SWEEP_REPORT_DELAY_MS"] = "400" };
        using (Child first = Tdxsim.Spawn(null, "sweep", Tdxsim.SmpHello, "--seeds", "1..8", "--cluster", at, "--out", results, "--akka-config", hocon))
        using (Child worker = Tdxsim.Spawn(slow, "worker", "--join", at, "--slots", "1", "--akka-config", hocon))
        {
            WaitFor(() => File.Exists(results) && Tdxsim.Lines(results).Count >= 2, first);
            first.Process.Kill();
            first.Process.WaitForExit();
            Outcome orphan = worker.Wait(Limit);
            Assert.Equal(1, orphan.Status);
            Assert.Contains($"lost the sweep coordinator at {at}", orphan.Stderr, StringComparison.Ordinal);
        }

        int held = Tdxsim.Lines(results).Count;
        Assert.InRange(held, 2, 7);
        using Child again = Tdxsim.Spawn(null, "sweep", Tdxsim.SmpHello, "--seeds", "1..8", "--cluster", at, "--out", results, "--resume", "--json");

        // A worker of another build is refused with one clear line; one of this build finishes the sweep.
        var other = new Dictionary<string, string> { [BuildVersion.OverrideVariable] = "0.0.1+another" };
        WaitFor(() => again.Stderr.Contains("waiting for 1 worker", StringComparison.Ordinal), again);
        using Child stranger = Tdxsim.Spawn(other, "worker", "--join", at);
        Outcome refused = stranger.Wait(Limit);
        using Child fresh = Tdxsim.Spawn(null, "worker", "--join", at, "--slots", "1");
        Assert.Equal(2, refused.Status);
        string line = Assert.Single(refused.StderrLines);
        Assert.Contains($"refused by the sweep at {at}: this worker runs TdxSim 0.0.1+another, the coordinator ", line, StringComparison.Ordinal);
        Assert.Contains("same build", line, StringComparison.Ordinal);
        Outcome sweep = again.Wait(Limit);
        Assert.Contains("refused worker", sweep.Stderr, StringComparison.Ordinal);
        Assert.True(sweep.Status == 0, sweep.Stderr);
        using JsonDocument json = JsonDocument.Parse(sweep.Stdout);
        Assert.Equal(held, json.RootElement.GetProperty("summary").GetProperty("resumed").GetInt32());
        List<JsonElement> lines = Tdxsim.Lines(results);
        Assert.Equal(8, lines.Count);
        Assert.Equal(8, lines.Select(Tdxsim.Key).Distinct().Count());
        Assert.Equal(0, fresh.Wait(TimeSpan.FromSeconds(30)).Status);
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

    /// <summary>A shorter failure-detector pause than the default 6 s (through --akka-config), to keep the tests short.</summary>
    private string HeartbeatConfig()
    {
        string path = Path.Combine(_folder.FullName, "heartbeat.conf");
        File.WriteAllText(path, "akka.cluster.failure-detector.acceptable-heartbeat-pause = 4s\n");
        return path;
    }

    private static void WaitFor(Func<bool> condition, Child coordinator)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (!condition())
        {
            if (coordinator.Process.HasExited || clock.Elapsed > Limit)
            {
                Assert.Fail($"gave up waiting; coordinator stderr: {coordinator.Stderr}");
            }

            Thread.Sleep(50);
        }
    }

    [GeneratedRegex(@"lost \(\w[^)]*\) after \d+ runs: (?<n>\d+) runs? in flight queued again \(seed (?<seed>\d+), 2 vCPUs")]
    private static partial Regex LostLine();
}
