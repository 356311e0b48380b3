using TdxSim.Images.Guests;
using TdxSim.Machine.Scenarios;
using TdxSim.Machine.Tests.Guests;

namespace TdxSim.Machine.Tests.EndToEnd;

/// <summary>
/// configs/accept-storm.yaml: every vCPU accepts the same pending pages at once with one TDX module actor per vCPU.
/// The SEPT entry locks answer TDX_OPERAND_BUSY, the guest kernel retries, and every page is accepted exactly once.
/// </summary>
public sealed class AcceptStormTests
{
    private static Scenario Storm(bool deterministic, ulong seed = 0, Func<Scenario, Scenario>? configure = null)
    {
        Scenario s = ScenarioLoader.LoadEmbedded("accept-storm") with
        {
            Deterministic = deterministic,
            Seed = seed,
            Quiet = true,
            MaxInstructions = TdRunner.DefaultMaxInstructions,
            TimeLimitMs = TdRunner.DefaultTimeLimitMs,
        };
        return configure is null ? s : configure(s);
    }

    private static IReadOnlyDictionary<string, long> AcceptCounters(TdRun run) =>
        run.Result.Counters.Where(c => c.Key.Contains("accept", StringComparison.Ordinal) || c.Key.Contains("BUSY", StringComparison.Ordinal))
            .ToDictionary(c => c.Key, c => c.Value);

    private static void AssertEveryPageAcceptedOnce(TdRun run)
    {
        run.AssertExit(0, "halted");
        Assert.Equal(AcceptStormGuest.PagesAccepted, run.Counter("tdx_module.accept.success"));

        // Every OPERAND_BUSY answer went to the guest kernel's accept, and each was retried.
        Assert.Equal(run.Counter("tdx_module.accept.operand_busy"), run.Counter("guest.accept_busy_retries"));
        Assert.Equal(run.Counter("tdx_module.accept.operand_busy"),
            Enumerable.Range(0, run.Result.Vcpus.Count).Sum(v => run.Counter($"vcpu{v}.accept_busy_retries")));
    }

    [Fact]
    public void Deterministic_TheAcceptsCollide_BusyAnswersAreRetried_AndEveryPageIsAcceptedExactlyOnce()
    {
        TdRun run = TdRunner.Run(Storm(deterministic: true, seed: 1));

        AssertEveryPageAcceptedOnce(run);
        Assert.True(run.Counter("tdx_module.accept.operand_busy") > 0, "no OPERAND_BUSY in the storm");
        Assert.True(run.Counter("tdx_module.accept.already_accepted") > 0, "no retry found the page accepted");
        Assert.Equal(4, run.Result.Vcpus.Count);
    }

    [Fact]
    public void Deterministic_TheSameSeedGivesTheSameCounts_AnotherSeedAnotherInterleaving()
    {
        IReadOnlyDictionary<string, long> a = AcceptCounters(TdRunner.Run(Storm(deterministic: true, seed: 1)));
        IReadOnlyDictionary<string, long> b = AcceptCounters(TdRunner.Run(Storm(deterministic: true, seed: 1)));
        IReadOnlyDictionary<string, long> c = AcceptCounters(TdRunner.Run(Storm(deterministic: true, seed: 2)));

        Assert.Equal(a.OrderBy(kv => kv.Key), b.OrderBy(kv => kv.Key));
        Assert.NotEqual(a.OrderBy(kv => kv.Key), c.OrderBy(kv => kv.Key));
    }

    [Fact]
    public void Deterministic_WithOneModuleActor_TheAcceptsAreSerializedAndNeverBusy()
    {
        TdRun run = TdRunner.Run(Storm(deterministic: true, seed: 1, s => s with { Module = ModuleTopology.Single }));

        AssertEveryPageAcceptedOnce(run);
        Assert.Equal(0, run.Counter("tdx_module.accept.operand_busy"));
    }

    [Fact]
    public void Deterministic_WithAZeroCostAccept_ThereIsNoBusyWindow()
    {
        Scenario s = Storm(deterministic: true, seed: 1);
        CostModelSettings costs = s.Costs.With("leaf_ns", "TDG.MEM.PAGE.ACCEPT", "0", out CostSettingError? error)!;
        Assert.Null(error);
        TdRun run = TdRunner.Run(s with { Costs = costs });

        AssertEveryPageAcceptedOnce(run);
        Assert.Equal(0, run.Counter("tdx_module.accept.operand_busy"));
    }

    [Fact]
    public void Concurrent_RealThreadsAndRealLocks_EveryPageIsAcceptedExactlyOnce()
    {
        for (int i = 0; i < 3; i++)
        {
            AssertEveryPageAcceptedOnce(TdRunner.Run(Storm(deterministic: false)));
        }
    }
}
