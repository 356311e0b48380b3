using TdxSim.Abi;
using TdxSim.Machine.Scenarios;

namespace TdxSim.Machine.Tests.Scenarios;

public sealed class ScenarioLoaderTests
{
    [Fact]
    public void Parse_EveryKey_SetsTheScenario()
    {
        const string yaml = """
            name: full
            description: every key
            guest: builtin:demo
            load: 0x200000
            entry: 0x200010
            vcpus: 4
            memory: 128M
            accept: lazy
            unroll_string_io: true
            max_instructions: 1_000_000
            time_limit_ms: 500
            reply_timeout_ms: 0
            seed: 0x2a
            deterministic: yes
            vmm: per-vcpu
            td_attributes: [debug, sept_ve_disable]
            vmm_settings:
              map_gpa_retry: true
              on_fatal_error: resume
              hlt_wake_ns: 1000
              msr_default: deny
              quote_delay_ns: 5
              msrs:
                - {index: 0x830, access: rw, value: 0}
                - {index: 0x1a0, access: ro, value: 0x1800}
            log: run.jsonl
            trace: /tmp/run.json
            dump_state: state.json
            quiet: true
            """;
        Scenario s = ScenarioLoader.Parse(yaml, "full.yaml", baseFolder: "/scenarios");

        Assert.Equal("full", s.Name);
        Assert.Equal("demo", s.Guest.BuiltIn);
        Assert.Equal(0x200000UL, s.Load);
        Assert.Equal(0x200010UL, s.Entry);
        Assert.Equal(4, s.Vcpus);
        Assert.Equal(128UL << 20, s.Memory);
        Assert.True(s.LazyAccept);
        Assert.True(s.UnrollStringIo);
        Assert.Equal(1_000_000UL, s.MaxInstructions);
        Assert.Equal(500UL, s.TimeLimitMs);
        Assert.Equal(0UL, s.ReplyTimeoutMs);
        Assert.Equal(42UL, s.Seed);
        Assert.True(s.Deterministic);
        Assert.Equal(VmmTopology.PerVcpu, s.Vmm);
        Assert.Equal(TdAttributes.Debug | TdAttributes.SeptVeDisable, s.TdAttributes);
        Assert.True(s.VmmSettings.MapGpaRetry);
        Assert.Equal(FatalErrorPolicy.Resume, s.VmmSettings.OnFatalError);
        Assert.Equal(1000UL, s.VmmSettings.HltWakeNs);
        Assert.True(s.VmmSettings.MsrDefaultDeny);
        Assert.Equal(5UL, s.VmmSettings.QuoteDelayNs);
        Assert.Equal([new MsrRule(0x830, MsrAccess.ReadWrite, 0), new MsrRule(0x1A0, MsrAccess.ReadOnly, 0x1800)], s.VmmSettings.Msrs);
        Assert.Equal("/scenarios/run.jsonl", s.LogPath);
        Assert.Equal("/tmp/run.json", s.TracePath);
        Assert.Equal("/scenarios/state.json", s.DumpStatePath);
        Assert.True(s.Quiet);
    }

    [Fact]
    public void Parse_ImagePath_IsRelativeToTheScenarioFolder()
    {
        Scenario s = ScenarioLoader.Parse("guest: images/g.elf", "x.yaml", baseFolder: "/work/configs");
        Assert.Equal("/work/configs/images/g.elf", s.Guest.ImagePath);
        Assert.Null(s.Guest.BuiltIn);
    }

    [Fact]
    public void Parse_EmptyDocument_GivesTheDefaults()
    {
        Scenario s = ScenarioLoader.Parse(string.Empty, "empty.yaml", defaultName: "empty");
        Assert.Equal("empty", s.Name);
        Assert.Equal(1, s.Vcpus);
        Assert.Equal(Scenario.DefaultMemory, s.Memory);
        Assert.Equal(Scenario.DefaultLoadAddress, s.Load);
        Assert.False(s.Deterministic);
    }

    [Theory]
    [InlineData("vcpu: 2", "x.yaml:1: unknown key 'vcpu' (did you mean 'vcpus'?)")]
    [InlineData("name: a\nfrobnicate: 1", "x.yaml:2: unknown key 'frobnicate' (known: ")]
    [InlineData("vcpus: 0", "x.yaml:1: vcpus must be between 1 and 256, not 0")]
    [InlineData("vcpus: 257", "x.yaml:1: vcpus must be between 1 and 256, not 257")]
    [InlineData("vcpus: two", "x.yaml:1: 'two' is not a number (decimal or 0x hex)")]
    [InlineData("memory: 12Q", "x.yaml:1: '12Q' is not a size")]
    [InlineData("memory: 4097", "x.yaml:1: memory size 0x1001 is not a multiple of 4 KiB")]
    [InlineData("memory: 4K", "x.yaml:1: memory size 0x1000 is below the 1M minimum")]
    [InlineData("accept: sometimes", "x.yaml:1: expected one of eager, lazy, not 'sometimes'")]
    [InlineData("deterministic: maybe", "x.yaml:1: expected true or false, not 'maybe'")]
    [InlineData("vmm: two", "x.yaml:1: expected one of single, per-vcpu, not 'two'")]
    [InlineData("td_attributes: [tdx]", "x.yaml:1: unknown TD attribute 'tdx'")]
    [InlineData("td_attributes: 0xFFFFFFFFFFFFFFFF", "x.yaml:1: td_attributes 0xffffffffffffffff sets reserved bits 0x3fffffff07feff8e")]
    [InlineData("td_attributes: 0x2", "x.yaml:1: td_attributes 0x2 sets reserved bits 0x2")]
    [InlineData("vmm_settings:\n  map_gpa_rety: true", "x.yaml:2: unknown key 'map_gpa_rety' (did you mean 'map_gpa_retry'?)")]
    [InlineData("vmm_settings:\n  msrs:\n    - {access: rw}", "x.yaml:3: msrs entry needs an index")]
    [InlineData("vmm_settings:\n  msrs:\n    - {index: 0x100000000}", "x.yaml:3: MSR index 0x100000000 does not fit in 32 bits")]
    [InlineData("max_instructions: 0", "x.yaml:1: must be greater than zero")]
    [InlineData("reply_timeout_ms: soon", "x.yaml:1: 'soon' is not a number (decimal or 0x hex)")]
    [InlineData("name: a\nvcpus: !count 2", "x.yaml:2: unsupported YAML tag '!count'")]
    [InlineData("- a\n- b", "x.yaml:1: a scenario must be a mapping")]
    [InlineData("name: [unclosed", "x.yaml:2: invalid YAML")]
    [InlineData("cost_model:\n  vmm_ns: -5", "x.yaml:2: vmm_ns: a cost cannot be negative (-5)")]
    [InlineData("cost_model:\n  vmm_nss: 5", "x.yaml:2: unknown key 'vmm_nss' (did you mean 'vmm_ns'?)")]
    [InlineData("cost_model:\n  vmm_ns: fast", "x.yaml:2: vmm_ns: 'fast' is not a cost in whole nanoseconds")]
    [InlineData("cost_model:\n  instruction_ns: -0.5", "x.yaml:2: instruction_ns: '-0.5' is not a cost in nanoseconds")]
    [InlineData("cost_model:\n  leaf_ns:\n    TDG.MEM.PAGE.ACEPT: 10", "x.yaml:3: leaf_ns: unknown name 'TDG.MEM.PAGE.ACEPT' (known: ")]
    [InlineData("cost_model:\n  subfn_ns:\n    Instruction.IO: -1", "x.yaml:3: subfn_ns Instruction.IO: a cost cannot be negative (-1)")]
    [InlineData("cost_model:\n  device_ns:\n    com9: 10", "x.yaml:3: device_ns: unknown name 'com9' (known: com1, ")]
    [InlineData("cost_model:\n  device_ns: 10", "x.yaml:2: device_ns must be a mapping of names to nanoseconds")]
    [InlineData("cost_model: 10", "x.yaml:1: cost_model must be a mapping of cost keys to nanoseconds")]
    [InlineData("module: both", "x.yaml:1: expected one of single, per-vcpu, not 'both'")]
    public void Parse_BadInput_NamesFileLineAndProblem(string yaml, string expectedStart)
    {
        ScenarioException e = Assert.Throws<ScenarioException>(() => ScenarioLoader.Parse(yaml, "x.yaml"));
        Assert.StartsWith(expectedStart, e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public void CostModel_SetsEveryKindOfCost()
    {
        Scenario s = ScenarioLoader.Parse(
            "cost_model:\n  vmm_ns: 900\n  instruction_ns: 0.25\n  transit_ns: 40\n  leaf_ns: {TDG.MEM.PAGE.ACCEPT: 5000}\n"
            + "  subfn_ns: {Instruction.IO: 700}\n  device_ns: {com1: 300}\n  message_ns: {TdExited: 80}\n", "c.yaml");
        Assert.Equal(900, s.Costs.VmmNs);
        Assert.Equal(0.25, s.Costs.InstructionNs);
        Assert.Equal(40, s.Costs.TransitNs);
        Assert.Equal(5000, s.Costs.LeafNs["TDG.MEM.PAGE.ACCEPT"]);
        Assert.Equal(700, s.Costs.SubfnNs["Instruction.IO"]);
        Assert.Equal(300, s.Costs.DeviceNs["com1"]);
        Assert.Equal(80, s.Costs.MessageNs["TdExited"]);
        Assert.Equal(new CostModelSettings().TdcallNs, s.Costs.TdcallNs);
    }

    [Fact]
    public void StandardYamlTags_AreAccepted()
        => Assert.Equal(2, ScenarioLoader.Parse("vcpus: !!int 2\nname: !!str t", "x.yaml").Vcpus);

    [Fact]
    public void ReplyTimeout_DefaultsToTenSeconds()
        => Assert.Equal(10_000UL, ScenarioLoader.Parse("name: x", "x.yaml").ReplyTimeoutMs);

    [Fact]
    public void LoadFile_Missing_NamesThePath()
    {
        ScenarioException e = Assert.Throws<ScenarioException>(() => ScenarioLoader.LoadFile("/nonexistent/s.yaml"));
        Assert.StartsWith("/nonexistent/s.yaml: cannot read scenario", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Embedded_Gallery_HasTheDefaultAndParsesCleanly()
    {
        IReadOnlyList<string> names = ScenarioLoader.EmbeddedNames();
        Assert.Contains(ScenarioLoader.DefaultScenarioName, names);
        foreach (string name in names)
        {
            Scenario s = ScenarioLoader.LoadEmbedded(name);
            Assert.Equal(name, s.Name);
        }

        Scenario hello = ScenarioLoader.LoadEmbedded("smp-hello");
        Assert.Equal("smp-hello", hello.Guest.BuiltIn);
        Assert.Equal(2, hello.Vcpus);
    }

    [Fact]
    public void Embedded_Unknown_ListsTheKnownNames()
    {
        ScenarioException e = Assert.Throws<ScenarioException>(() => ScenarioLoader.LoadEmbedded("nope"));
        Assert.Contains("smp-hello", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Gallery_FilesOnDisk_AreTheEmbeddedOnes()
    {
        string configs = Path.Combine(RepositoryRoot(), "configs");
        string[] files = Directory.GetFiles(configs, "*.yaml");
        Assert.NotEmpty(files);
        foreach (string file in files)
        {
            Scenario fromDisk = ScenarioLoader.LoadFile(file);
            Scenario embedded = ScenarioLoader.LoadEmbedded(Path.GetFileNameWithoutExtension(file));
            Assert.Equal(embedded with { LogPath = null, TracePath = null, DumpStatePath = null },
                fromDisk with { LogPath = null, TracePath = null, DumpStatePath = null });
        }
    }

    private static string RepositoryRoot()
    {
        string? dir = AppContext.BaseDirectory;
        while (dir is not null && !File.Exists(Path.Combine(dir, "Actors.sln")))
        {
            dir = Path.GetDirectoryName(dir);
        }

        return dir ?? throw new InvalidOperationException("Actors.sln not found above the test directory");
    }
}
