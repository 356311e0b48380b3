using TdxSim.Machine.Stress;

namespace TdxSim.Machine.Tests.Cli;

/// <summary>
/// Inputs found by a hostile-input campaign against <c>tdxsim</c> that once escaped as internal errors, named the
/// wrong file, were only noticed after the guest ran, or were silently altered. Each must be a usage error
/// (contract section 2: exit 2, one stderr line, nothing on stdout) before any guest runs.
/// </summary>
public sealed class HostileInputTests : IDisposable
{
    private readonly CliHarness _cli = new();

    public void Dispose() => _cli.Dispose();

    [Theory]
    [InlineData("--image")]
    [InlineData("--log")]
    [InlineData("--trace")]
    [InlineData("--dump-state")]
    public void EmptyPathOption_IsAUsageErrorNamingTheOption(string option)
        => CliHarness.Run("run", option, string.Empty, "--quiet").AssertUsageError(option, "is not a file path");

    [Fact]
    public void PathOptionWithNul_IsAUsageErrorNamingTheOption()
        => CliHarness.Run("run", "--log", "run\0.jsonl", "--quiet").AssertUsageError("--log", "is not a file path");

    [Fact]
    public void UnwritableDumpState_IsAUsageErrorBeforeTheGuestRuns()
    {
        string dump = Path.Combine(_cli.Folder, "no-such-folder", "state.json");

        CliHarness.Run("run", "--dump-state", dump, "--quiet").AssertUsageError("final state", dump);
    }

    [Fact]
    public void DumpStateThatIsAFolder_IsAUsageError()
        => CliHarness.Run("run", "--dump-state", _cli.Folder, "--quiet").AssertUsageError("final state", _cli.Folder);

    [Fact]
    public void DumpStateOnAFullDevice_IsOneLineAfterTheRun_NotAnInternalError()
    {
        // /dev/full accepts the open and fails every write with ENOSPC (Linux, where the emulator runs).
        CliResult result = CliHarness.Run("run", "demo", "--dump-state", "/dev/full", "--quiet");

        // The guest's debug exit (status 1) ran, but the final state asked for was not written: exit 2.
        Assert.Equal(ExitStatus.UsageError, result.Status);
        string line = Assert.Single(result.StderrLines);
        Assert.StartsWith("tdxsim: cannot write /dev/full: ", line, StringComparison.Ordinal);
    }

    [Fact]
    public void LogOnAFullDevice_ReportsTheLostMessages_AndExits2()
    {
        CliResult result = CliHarness.Run("run", "demo", "--log", "/dev/full", "--quiet");

        Assert.Equal(ExitStatus.UsageError, result.Status);
        Assert.Contains(result.StderrLines, l => l.StartsWith("tdxsim: ", StringComparison.Ordinal) && l.Contains("/dev/full", StringComparison.Ordinal));
    }

    [Fact]
    public void UnwritableTrace_IsNamed_NotTheLogNextToIt()
    {
        string log = Path.Combine(_cli.Folder, "run.jsonl");
        string trace = Path.Combine(_cli.Folder, "no-such-folder", "trace.json");

        CliResult result = CliHarness.Run("run", "--log", log, "--trace", trace, "--quiet");

        result.AssertUsageError("trace", trace);
        Assert.DoesNotContain(log, result.Stderr, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("0xffffffffffffffff")]
    [InlineData("0")]
    [InlineData("0x800000100000")]
    public void EntryOffTheBuiltInGuest_IsAUsageError_NotAGuestFatal(string entry)
        => CliHarness.Run("run", "--entry", entry, "--quiet").AssertUsageError("entry point", "outside the guest's code");

    [Fact]
    public void EntryInsideTheBuiltInGuest_StillRuns()
    {
        CliResult result = CliHarness.Run("run", "demo", "--entry", "0x100000", "--quiet");

        Assert.Equal(1, result.Status);
        Assert.Contains("hello", result.Com1, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("--vcpu", "0x80000000")]
    [InlineData("--follow", "0x8000000000000000")]
    public void InspectNumberBeyondItsRange_IsAUsageError_NotClamped(string option, string value)
    {
        string log = _cli.File("log.jsonl", string.Empty);

        CliHarness.Run("inspect", log, option, value).AssertUsageError(option, "out of range");
    }

    [Fact]
    public void StressInstructionLimit_SaturatesInsteadOfWrapping()
    {
        Assert.Equal(10_064UL, StressRunner.InstructionLimit(1));
        Assert.Equal(ulong.MaxValue, StressRunner.InstructionLimit(ulong.MaxValue));
        Assert.Equal(ulong.MaxValue, StressRunner.InstructionLimit((ulong.MaxValue / 64) + 1));
        Assert.True(StressRunner.InstructionLimit(ulong.MaxValue / 128) > ulong.MaxValue / 128);
    }
}
