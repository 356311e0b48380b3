using System.Collections.Concurrent;
using System.Text.Json;
using TdxSim.Abi.Faults;
using TdxSim.Machine.Scenarios;
using TdxSim.Machine.Tests.Cli;
using TdxSim.Machine.Tests.Guests;

namespace TdxSim.Machine.Tests.Hostile;

/// <summary>
/// A hostile VMM (contract section 10): whatever the host does, the TD ends with a documented status (0, 4, 6 or a
/// debug-exit status), never 8 and never a hang, and the guest kernel model reacts as Linux does.
/// </summary>
public sealed class HostileVmmTests : IDisposable
{
    private readonly CliHarness _cli = new();

    public void Dispose() => _cli.Dispose();

    /// <summary>smp-hello on 2 vCPUs, deterministic, with a hostile VMM of <paramref name="faults"/> at <paramref name="rate"/>.</summary>
    private static Scenario Hostile(ulong seed, HostFaultSet faults = HostFaultSet.All, double rate = HostileVmmPlan.DefaultRate, string config = "smp-hello", int? vcpus = null, bool deterministic = true)
    {
        Scenario s = ScenarioLoader.LoadEmbedded(config);
        return s with
        {
            Vcpus = vcpus ?? s.Vcpus,
            Seed = seed,
            Deterministic = deterministic,
            Quiet = true,
            HostileVmm = new HostileVmmSettings(seed, faults, rate),
        };
    }

    private static bool IsDocumented(int status) => status is ExitStatus.Success or ExitStatus.GuestFatal or ExitStatus.LimitReached || (status & 1) == 1;

    [Fact]
    public void ManySeeds_OnSmpHelloWith2Vcpus_EndInADocumentedStatus_NeverAnInternalErrorOrAHang()
    {
        // The suite runs 60 seeds; TDXSIM_HOSTILE_SEEDS=1000 runs the full range (README: the histogram).
        int seeds = int.TryParse(Environment.GetEnvironmentVariable("TDXSIM_HOSTILE_SEEDS"), out int n) && n > 0 ? n : 60;
        var results = new ConcurrentBag<(ulong Seed, int Status, string Reason, string Detail, int Faults)>();
        Parallel.For(1, seeds + 1, new ParallelOptions { MaxDegreeOfParallelism = 2 }, seed =>
        {
            MachineResult r = TdRunner.Run(Hostile((ulong)seed)).Result;
            results.Add(((ulong)seed, r.ExitStatus, r.Reason, r.Detail, r.InjectedFaults.Count));
        });

        Assert.Equal(seeds, results.Count);
        foreach ((ulong seed, int status, string reason, string detail, int _) in results)
        {
            Assert.True(IsDocumented(status) && status != ExitStatus.InternalError, $"seed {seed}: status {status} ({reason}: {detail})");
        }

        // The host did misbehave: most runs saw at least one fault.
        Assert.True(results.Count(r => r.Faults > 0) > seeds / 2);
    }

    [Fact]
    public void SameSeed_SameFaults_SameOutcome()
    {
        MachineResult a = TdRunner.Run(Hostile(7, rate: 0.01)).Result;
        MachineResult b = TdRunner.Run(Hostile(7, rate: 0.01)).Result;
        Assert.Equal(a.ExitStatus, b.ExitStatus);
        Assert.Equal(a.InjectedFaults.Select(f => f.ToString()), b.InjectedFaults.Select(f => f.ToString()));
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void ReplyThatNeverComes_EndsInAReplyTimeout_NamingTheVcpuAndTheRequest(bool deterministic)
    {
        MachineResult r = TdRunner.Run(Hostile(1, HostFaultSet.NoReply, 1.0, vcpus: 1, deterministic: deterministic)).Result;

        Assert.Equal(ExitStatus.LimitReached, r.ExitStatus);
        Assert.Equal("reply-timeout", r.Reason);
        Assert.Contains("vCPU 0 has waited", r.Detail, StringComparison.Ordinal);
        Assert.Contains("TDG.VP.VMCALL<Instruction.IO>", r.Detail, StringComparison.Ordinal);
        Assert.Contains("the hostile VMM never answered", r.Detail, StringComparison.Ordinal);
        InjectedFault f = Assert.Single(r.InjectedFaults);
        Assert.Equal(HostFaultSet.NoReply, f.Kind);
        Assert.Equal("waiting", r.Vcpus[0].State);
    }

    [Fact]
    public void ErrorStatusOnAPortAccessByVe_IsAFaultOfTheVeHandler_Status4()
    {
        MachineResult r = TdRunner.Run(Hostile(1, HostFaultSet.ErrorStatus, 1.0)).Result;

        Assert.Equal(ExitStatus.GuestFatal, r.ExitStatus);
        Assert.Contains("#VE IO_INSTRUCTION", r.Detail, StringComparison.Ordinal);
        Assert.Contains("failed", r.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public void WrongWidthValues_AreMaskedToTheAccessSize_AsLinuxDoes_SoTheRunSucceeds()
    {
        TdRun run = TdRunner.Run(Hostile(3, HostFaultSet.WrongWidth, 1.0));

        Assert.Equal(ExitStatus.Success, run.ExitStatus);
        Assert.Contains("both walks saw the same device-visible results", run.Com1, StringComparison.Ordinal);
        Assert.Contains("\"TdxSimTdxSim\"", run.Com1, StringComparison.Ordinal);
        Assert.True(run.Result.InjectedFaults.Count > 100);
        Assert.All(run.Result.InjectedFaults, f => Assert.Equal(HostFaultSet.WrongWidth, f.Kind));
    }

    [Fact]
    public void DelayedReplies_OnlyCostTime()
    {
        TdRun run = TdRunner.Run(Hostile(4, HostFaultSet.Delay, 0.2));

        Assert.Equal(ExitStatus.Success, run.ExitStatus);
        Assert.Contains("both walks saw the same device-visible results", run.Com1, StringComparison.Ordinal);
        Assert.True(run.Result.InjectedFaults.Count > 10);
    }

    [Fact]
    public void EndlessRetryOnMapGpa_TheGuestGivesUpAfterThreeRetriesWithoutProgress()
    {
        string log = Path.Combine(_cli.Folder, "retry.jsonl");
        string scenario = _cli.File("retry.yaml", "guest: builtin:smp-hello\nvcpus: 1\ndeterministic: true\nhostile_vmm: {seed: 1, faults: [endless-retry], rate: 1}\n");
        CliResult r = CliHarness.Run("run", scenario, "--quiet", "--log", log);

        Assert.Equal(ExitStatus.DebugExit(Images.Guests.TourGuest.TdvmcallFailedExitValue), r.Status);
        Assert.Contains("TDVMCALL failed: sub-function 0x10001 status 0x0000000000000001", r.Com1, StringComparison.Ordinal);
        Assert.Contains("hostile VMM: vCPU 0: TDG.VP.VMCALL<MapGPA>: endless-retry", r.Stderr, StringComparison.Ordinal);

        // Linux's tdx_map_gpa(): it counts each RETRY without progress and stops once the count reaches three, so three
        // calls in all.
        List<JsonElement> lines = ReadLog(log);
        Assert.Equal(3, lines.Count(l => Str(l, "type") == "TdVmcallRequested" && Str(l, "subfn") == "MapGPA"));
        Assert.Equal(3, lines.Count(l => Str(l, "type") == "TdVmcallCompleted" && Str(l, "fault") == "endless-retry"));
    }

    [Fact]
    public void SpuriousVeOnSharedMemory_TheAccessBecomesMmioEmulation()
    {
        // Both walks' shared pages are zapped: each write through the shared alias takes a #VE and becomes an MMIO
        // write nobody takes, each read an MMIO read of all ones. Both walks see the same, so the run still ends 0.
        TdRun run = TdRunner.Run(Hostile(1, HostFaultSet.SpuriousVe, 1.0));

        Assert.Equal(ExitStatus.Success, run.ExitStatus);
        Assert.Equal(2, run.Com1.Split("wrote/read 0xffffffffffffffff").Length - 1);
        Assert.Contains(run.Result.InjectedFaults, f => f.Kind == HostFaultSet.SpuriousVe && f.Detail.Contains("zapped", StringComparison.Ordinal));
        Assert.True(run.Counter("vcpu0.ve.EPT_VIOLATION") > 0);
    }

    [Fact]
    public void OperandBusyFromTheModule_OnTheKernelsPageAccept_IsFatal_AsLinuxPanics()
    {
        MachineResult r = TdRunner.Run(Hostile(1, HostFaultSet.OperandBusy, 1.0, config: "lazy-accept")).Result;

        Assert.Equal(ExitStatus.GuestFatal, r.ExitStatus);
        Assert.Contains("TDG.MEM.PAGE.ACCEPT", r.Detail, StringComparison.Ordinal);
        Assert.Contains(r.InjectedFaults, f => f.Kind == HostFaultSet.OperandBusy && f.Component == "tdx-module");
    }

    [Fact]
    public void Garbage_EndsInADocumentedStatus()
    {
        for (ulong seed = 1; seed <= 5; seed++)
        {
            MachineResult r = TdRunner.Run(Hostile(seed, HostFaultSet.Garbage, 0.05)).Result;
            Assert.True(IsDocumented(r.ExitStatus), $"seed {seed}: {r.ExitStatus} {r.Reason}: {r.Detail}");
            Assert.NotEmpty(r.InjectedFaults);
        }
    }

    [Fact]
    public void EveryFault_IsNamedOnStderr_AndMarkedInTheLog()
    {
        string log = Path.Combine(_cli.Folder, "run.jsonl");
        CliResult r = CliHarness.Run("run", "--hostile-vmm", "4", "--deterministic", "--seed", "4", "--quiet", "--log", log);

        Assert.NotEqual(ExitStatus.InternalError, r.Status);
        string[] named = [.. r.StderrLines.Where(l => l.StartsWith("tdxsim: hostile VMM: vCPU ", StringComparison.Ordinal))];
        Assert.NotEmpty(named);
        List<JsonElement> lines = ReadLog(log);
        // Each fault marks the message that carries it (the bent reply, the withheld reply's notice, the busy completion).
        int marked = lines.Count(l => Str(l, "fault") is not null);
        Assert.True(marked >= named.Length, $"{marked} log lines marked for {named.Length} faults");

        // inspect reads a hostile log like any other.
        Assert.Equal(0, CliHarness.Run("inspect", log).Status);
    }

    [Theory]
    [InlineData("hostile_vmm: {faults: [error-status, frobnicate]}", "x.yaml:1: unknown fault kind 'frobnicate' (known: error-status, garbage")]
    [InlineData("hostile_vmm:\n  seed: 3\n  rate: 1.5", "x.yaml:3: rate must be a number from 0 to 1, not '1.5'")]
    [InlineData("hostile_vmm: {rate: -0.1}", "x.yaml:1: rate must be a number from 0 to 1, not '-0.1'")]
    [InlineData("hostile_vmm: {rate: nan}", "x.yaml:1: rate must be a number from 0 to 1")]
    [InlineData("hostile_vmm: {faults: error-status}", "x.yaml:1: faults must be a list of fault kinds")]
    [InlineData("hostile_vmm: {sed: 3}", "x.yaml:1: unknown key 'sed' (did you mean 'seed'?)")]
    [InlineData("hostile_vmm: [1]", "x.yaml:1: hostile_vmm must be a seed or a mapping")]
    public void BadHostileKeys_AreScenarioErrorsWithFileAndLine(string yaml, string expected)
    {
        ScenarioException e = Assert.Throws<ScenarioException>(() => ScenarioLoader.Parse(yaml, "x.yaml"));
        Assert.StartsWith(expected, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void BadHostileKey_OnTheCommandLine_IsExit2()
    {
        string scenario = _cli.File("bad.yaml", "guest: builtin:smp-hello\nhostile_vmm:\n  faults: [lies]\n");
        CliHarness.Run("run", scenario).AssertUsageError("bad.yaml:3: unknown fault kind 'lies'");
        CliHarness.Run("run", "--hostile-vmm", "banana").AssertUsageError("--hostile-vmm");
    }

    [Fact]
    public void HostileKeys_Parse()
    {
        Scenario s = ScenarioLoader.Parse("hostile_vmm: {seed: 0x10, faults: [delay, no-reply], rate: 0.25}", "x.yaml");
        Assert.Equal(new HostileVmmSettings(16, HostFaultSet.Delay | HostFaultSet.NoReply, 0.25), s.HostileVmm);
        Assert.Equal(HostileVmmSettings.Default with { Seed = 9 }, ScenarioLoader.Parse("hostile_vmm: 9", "x.yaml").HostileVmm);
        Assert.Equal(HostileVmmSettings.Default, ScenarioLoader.Parse("hostile_vmm: {}", "x.yaml").HostileVmm);
    }

    [Fact]
    public void SameSeed_SameLog_ItEndsWhereTheTdEnded_NothingOfTheShutdownIsLogged()
    {
        // Regression (found by the 1000-seed sweep: seed 169 of every fault kind gave another log_sha256 one run in
        // about 40). The log went on through the actor system's shutdown, and whether vCPU 1's queued RunSlice was still
        // delivered before Akka stopped it depended on the shutdown threads. The last line must be the message that
        // completed the TD: the last vCPU's final state to the machine.
        string scenario = _cli.File("all.yaml", "guest: builtin:smp-hello\nvcpus: 2\nhostile_vmm: {}\n");
        var hashes = new HashSet<string>();
        for (int i = 0; i < 3; i++)
        {
            string log = Path.Combine(_cli.Folder, $"seed169-{i}.jsonl");
            CliResult r = CliHarness.Run("run", scenario, "--deterministic", "--seed", "169", "--quiet", "--log", log);
            Assert.Equal(ExitStatus.LimitReached, r.Status);
            JsonElement last = ReadLog(log)[^1];
            Assert.Equal(("VcpuStopped", "machine"), (Str(last, "type"), Str(last, "to")));
            hashes.Add(Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(File.ReadAllBytes(log))));
        }

        Assert.Single(hashes);
    }

    private static List<JsonElement> ReadLog(string path)
        => [.. File.ReadLines(path).Select(l => JsonDocument.Parse(l).RootElement.Clone())];

    private static string? Str(JsonElement e, string name)
        => e.TryGetProperty(name, out JsonElement v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;
}
