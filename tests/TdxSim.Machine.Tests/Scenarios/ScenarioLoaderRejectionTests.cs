using TdxSim.Machine.Scenarios;

namespace TdxSim.Machine.Tests.Scenarios;

/// <summary>Scenario text that once escaped the loader's file:line errors or was silently ignored.</summary>
public sealed class ScenarioLoaderRejectionTests
{
    [Theory]
    [InlineData("image")]
    [InlineData("guest")]
    [InlineData("log")]
    [InlineData("trace")]
    [InlineData("dump_state")]
    public void PathWithNul_IsAScenarioErrorNamingTheLine(string key)
    {
        string yaml = $"name: nul\n{key}: \"a\\0b\"\n";

        ScenarioException e = Assert.Throws<ScenarioException>(() => ScenarioLoader.Parse(yaml, "x.yaml", baseFolder: "/tmp"));

        Assert.Equal("x.yaml:2: a path cannot contain a NUL character", e.Message);
    }

    [Fact]
    public void SecondDocument_IsRefused_NotIgnored()
    {
        const string yaml = "vcpus: 1\n---\nvcpus: bogus\n";

        ScenarioException e = Assert.Throws<ScenarioException>(() => ScenarioLoader.Parse(yaml, "x.yaml"));

        Assert.StartsWith("x.yaml:3: a second YAML document", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("vcpus: 3\n---\n")]
    [InlineData("vcpus: 3\n...\n")]
    [InlineData("---\nvcpus: 3\n")]
    public void DocumentMarkersAroundOneDocument_AreFine(string yaml)
        => Assert.Equal(3, ScenarioLoader.Parse(yaml, "x.yaml").Vcpus);
}
