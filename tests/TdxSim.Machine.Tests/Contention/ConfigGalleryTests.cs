using TdxSim.Machine.Scenarios;
using TdxSim.Machine.Tests.Cli;
using TdxSim.Machine.Tests.Linux;

namespace TdxSim.Machine.Tests.Contention;

/// <summary>Every scenario of <c>configs/</c> loads and runs, deterministic, to its expected exit status.</summary>
public sealed class ConfigGalleryTests
{
    /// <summary>Exit statuses other than 0 that a config is meant to end with.</summary>
    private static readonly Dictionary<string, int> Expected = new(StringComparer.Ordinal)
    {
        ["demo.yaml"] = 1, // exits through the debug port (0xF4) with 0: (0 << 1) | 1
    };

    private static string ConfigFolder => Path.Combine(DebianKernel.RepositoryRoot(), "configs");

    public static TheoryData<string> Configs()
    {
        var data = new TheoryData<string>();
        foreach (string file in Directory.GetFiles(ConfigFolder, "*.yaml").Order(StringComparer.Ordinal))
        {
            data.Add(Path.GetFileName(file));
        }

        return data;
    }

    [Fact]
    public void Gallery_HasTheContentionQuestions()
    {
        string[] files = [.. Directory.GetFiles(ConfigFolder, "*.yaml").Select(Path.GetFileName)!];
        Assert.Contains("contention-vmm.yaml", files);
        Assert.Contains("contention-uart.yaml", files);

        Scenario uart = ScenarioLoader.LoadFile(Path.Combine(ConfigFolder, "contention-uart.yaml"));
        Assert.Equal(VmmTopology.PerVcpu, uart.Vmm);
        Assert.Equal(2000, uart.Costs.DeviceNs["com1"]);
        Scenario vmm = ScenarioLoader.LoadFile(Path.Combine(ConfigFolder, "contention-vmm.yaml"));
        Assert.Equal(VmmTopology.Single, vmm.Vmm);
    }

    [Theory]
    [MemberData(nameof(Configs))]
    public void Config_LoadsAndRunsDeterministically_ToItsExpectedStatus(string name)
    {
        string path = Path.Combine(ConfigFolder, name);
        Scenario scenario = ScenarioLoader.LoadFile(path);
        Assert.False(string.IsNullOrEmpty(scenario.Name));

        CliResult r = CliHarness.Run("run", path, "--deterministic", "--seed", "1", "--quiet");
        int expected = Expected.GetValueOrDefault(name, 0);
        Assert.True(r.Status == expected, $"{name}: expected exit {expected}, got {r.Status}; stderr: {r.Stderr}");
        if (scenario.Guest.BuiltIn is "smp-hello" or "demo")
        {
            Assert.Contains("hello from vCPU 0", r.Com1, StringComparison.Ordinal);
        }
    }
}
