using TdxSim.Machine.Scenarios;
using TdxSim.Machine.Tests.Cli;

namespace TdxSim.Machine.Tests.Fuzz;

/// <summary>Inputs the fuzz properties found (<see cref="FuzzTests"/>), kept so their fixes stay fixed.</summary>
public sealed class FuzzRegressionTests : IDisposable
{
    private readonly CliHarness _cli = new();

    public void Dispose() => _cli.Dispose();

    [Theory]
    // A block scalar quoted in the error message made a two-line diagnostic.
    [InlineData(" max_instructions : |\n  text\n  memory[error-status, delay]\n    td_attributes: - |\n  text", "fuzz.yaml:1: ")]
    // YamlDotNet's scanner threw a bare InvalidOperationException (exit 8) on this plain scalar in a flow mapping.
    [InlineData("  load : { unclosed\n    index---\ntd_attributes:>-\n  folded\n  append4K\n\ttrace:lazy\n traceakka.loglevel = DEBUG", "fuzz.yaml:")]
    public void FoundScenarioInputs_AreOneLineScenarioErrors(string text, string prefix)
    {
        ScenarioException e = Assert.Throws<ScenarioException>(() => ScenarioLoader.Parse(text, "fuzz.yaml"));
        Assert.StartsWith(prefix, e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', e.Message);

        string path = _cli.File("fuzz.yaml", text);
        CliHarness.Run("run", path).AssertUsageError("fuzz.yaml:");
    }
}
