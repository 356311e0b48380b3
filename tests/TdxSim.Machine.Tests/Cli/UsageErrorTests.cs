namespace TdxSim.Machine.Tests.Cli;

/// <summary>
/// Bad usage and bad input (contract section 2): rejected before any guest runs, exit status 2, one clear stderr line
/// naming what is wrong (file and line for YAML), never a stack trace, nothing on stdout.
/// </summary>
public sealed class UsageErrorTests : IDisposable
{
    private readonly CliHarness _cli = new();

    public void Dispose() => _cli.Dispose();

    [Fact]
    public void NoCommand_IsAUsageError()
        => CliHarness.Run().AssertUsageError("a command is required");

    [Fact]
    public void UnknownCommand_IsAUsageError()
        => CliHarness.Run("launch").AssertUsageError("launch");

    [Fact]
    public void UnknownCommandWithOptions_NamesTheCommandOnceAndListsTheCommands()
    {
        CliResult r = CliHarness.Run("frobnicate", "--seeds", "1..10");
        r.AssertUsageError("unknown command 'frobnicate'", "run, stress, inspect");
        Assert.DoesNotContain("--seeds", r.Stderr, StringComparison.Ordinal);
        Assert.Equal(2, r.Stderr.Split("frobnicate").Length);
    }

    [Fact]
    public void AkkaConfigFileMissing_IsAUsageErrorNamingIt()
        => CliHarness.Run("run", "--akka-config", "/no/such/akka.conf").AssertUsageError("--akka-config", "/no/such/akka.conf");

    [Theory]
    [InlineData("akka { actor {\n", "'{' is not closed")]
    [InlineData("a = \"open\n", "string is not closed")]
    [InlineData("a = 1 }\n", "closes nothing")]
    [InlineData("a : : b\n", "has no value")]
    public void AkkaConfigFileMalformed_IsAUsageErrorNamingFileAndProblem(string hocon, string problem)
    {
        string path = _cli.File("bad.conf", hocon);
        CliHarness.Run("stress", "--count", "10", "--akka-config", path).AssertUsageError(path, problem);
    }

    [Fact]
    public void AkkaConfigNamingAnUnknownDispatcher_IsAUsageError()
    {
        string path = _cli.File("disp.conf", "tdxsim.dispatcher-id = \"nowhere\"\n");
        CliHarness.Run("run", "--akka-config", path, "--quiet").AssertUsageError("nowhere");
    }

    [Fact]
    public void ScenarioAkkaKeyMalformed_IsAUsageErrorNamingTheFile()
    {
        string path = _cli.File("s.yaml", "vcpus: 1\nakka: |\n  akka { loglevel = ERROR\n");
        CliHarness.Run("run", path).AssertUsageError("s.yaml", "not closed");
    }

    [Theory]
    [InlineData("run", "--cpus")]
    [InlineData("run", "--cpus", "2")]
    [InlineData("run", "demo", "--cpus", "2")]
    public void UnknownOption_IsAUsageErrorNamingTheOption(params string[] args)
        => CliHarness.Run(args).AssertUsageError("--cpus");

    [Theory]
    [InlineData("--vcpus", "0x", "'0x' is not a number")]
    [InlineData("--vcpus", "two", "'two' is not a number")]
    [InlineData("--vcpus", "0", "between 1 and 256")]
    [InlineData("--vcpus", "257", "between 1 and 256")]
    [InlineData("--memory", "12Q", "'12Q' is not a size")]
    [InlineData("--memory", "512K", "below the 1M minimum")]
    [InlineData("--max-instructions", "0", "greater than zero")]
    [InlineData("--seed", "-1", "'-1' is not a number")]
    [InlineData("--load", "0xZZ", "'0xZZ' is not a number")]
    public void MalformedOptionValue_IsAUsageErrorNamingTheOption(string option, string value, string problem)
        => CliHarness.Run("run", option, value).AssertUsageError(option, problem);

    [Fact]
    public void MissingScenarioFile_IsAUsageErrorNamingIt()
    {
        string missing = Path.Combine(_cli.Folder, "missing.yaml");

        CliHarness.Run("run", missing).AssertUsageError(missing);
    }

    [Fact]
    public void MalformedYaml_IsAUsageErrorNamingTheFileAndLine()
    {
        string scenario = _cli.File("broken.yaml", "name: broken\nvcpus: 2\nmemory: [16M,\n");

        CliHarness.Run("run", scenario).AssertUsageError($"{scenario}:", "invalid YAML");
    }

    [Fact]
    public void UnknownYamlKey_IsAUsageErrorNamingTheFileLineAndKey()
    {
        string scenario = _cli.File("typo.yaml", "name: typo\nvcpu: 2\n");

        CliHarness.Run("run", scenario).AssertUsageError($"{scenario}:2:", "unknown key 'vcpu'", "did you mean 'vcpus'");
    }

    [Fact]
    public void BadYamlValue_IsAUsageErrorNamingTheFileAndLine()
    {
        string scenario = _cli.File("value.yaml", "name: value\nvcpus: 1\naccept: sometimes\n");

        CliHarness.Run("run", scenario).AssertUsageError($"{scenario}:3:", "sometimes");
    }

    [Fact]
    public void MissingImage_IsAUsageErrorNamingIt()
    {
        string missing = Path.Combine(_cli.Folder, "nowhere.bin");

        CliHarness.Run("run", "--image", missing).AssertUsageError("nowhere.bin");
    }

    [Fact]
    public void TruncatedElfImage_IsAUsageErrorNamingItAndTheProblem()
    {
        byte[] header = new byte[24];
        "\u007fELF"u8.CopyTo(header);
        header[4] = 2; // ELFCLASS64
        header[5] = 1; // little-endian
        header[6] = 1; // version
        string image = _cli.File("truncated.elf", header);

        CliHarness.Run("run", "--image", image).AssertUsageError("truncated.elf", "ELF");
    }

    [Fact]
    public void ImageThatDoesNotFitInMemory_IsAUsageError()
    {
        string image = _cli.File("big.bin", new byte[2 << 20]);

        CliHarness.Run("run", "--image", image, "--memory", "2M").AssertUsageError("big.bin");
    }

    [Fact]
    public void UnknownBuiltInGuest_IsAUsageErrorListingTheKnownOnes()
    {
        string scenario = _cli.File("guest.yaml", "guest: builtin:nonesuch\n");

        CliHarness.Run("run", scenario).AssertUsageError("nonesuch", "smp-hello");
    }
}
