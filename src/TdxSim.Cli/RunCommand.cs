using System.CommandLine;
using TdxSim.Machine;
using TdxSim.Machine.Scenarios;

namespace TdxSim.Cli;

/// <summary><c>tdxsim run [SCENARIO.yaml] [options]</c> (contract section 2).</summary>
internal static class RunCommand
{
    public static Command Create(Stream stdout, TextWriter stderr)
    {
        var scenarioArg = new Argument<string?>("scenario")
        {
            Description = "scenario file (YAML), or the name of a built-in scenario; default: smp-hello",
            Arity = ArgumentArity.ZeroOrOne,
        };
        var image = new Option<string?>("--image") { Description = "guest image: ELF64 (by its magic) or a flat binary" };
        var load = new Option<string?>("--load") { Description = "load address of a flat image (default 0x100000)" };
        var entry = new Option<string?>("--entry") { Description = "entry point (default: ELF e_entry or the load address)" };
        var vcpus = new Option<string?>("--vcpus") { Description = "number of vCPUs (default 1)" };
        var memory = new Option<string?>("--memory") { Description = "private memory size, e.g. 64M (default 64M)" };
        var log = new Option<string?>("--log") { Description = "message log, JSON Lines" };
        var trace = new Option<string?>("--trace") { Description = "Chrome/Perfetto trace JSON" };
        var dump = new Option<string?>("--dump-state") { Description = "final state JSON" };
        var maxInstructions = new Option<string?>("--max-instructions") { Description = "per-vCPU instruction limit" };
        var seed = new Option<string?>("--seed") { Description = "seed for every random choice (default 0)" };
        var deterministic = new Option<bool>("--deterministic") { Description = "single-threaded seeded scheduler on virtual time" };
        var quiet = new Option<bool>("--quiet") { Description = "no summary on stderr" };
        var akkaConfig = AkkaConfigOption.Create();
        var kernel = new Option<string?>("--kernel") { Description = "a Linux bzImage, loaded by the x86 boot protocol (QEMU's -kernel)" };
        var append = new Option<string?>("--append") { Description = "the kernel command line (QEMU's -append)" };
        var initrd = new Option<string?>("--initrd") { Description = "an initial ramdisk for --kernel (QEMU's -initrd)" };
        var hostile = new Option<string?>("--hostile-vmm") { Description = "the VMM misbehaves, seeded (contract section 10); scenario key hostile_vmm picks kinds and rate" };

        var command = new Command("run", "run a TD guest: a scenario, a built-in guest or an image");
        command.Arguments.Add(scenarioArg);
        foreach (Option option in new Option[] { image, load, entry, vcpus, memory, log, trace, dump, maxInstructions, seed, deterministic, quiet, akkaConfig, kernel, append, initrd, hostile })
        {
            command.Options.Add(option);
        }

        command.SetAction(parse =>
        {
            string? imagePath = parse.GetValue(image) is { } i ? CliNumbers.FilePath("--image", i) : null;
            string? scenarioPath = parse.GetValue(scenarioArg);
            if (scenarioPath is not null && scenarioPath.StartsWith('-'))
            {
                throw new UsageException($"run: unknown option '{scenarioPath}' (see tdxsim run --help)");
            }

            // An image without a scenario runs on the contract's defaults (1 vCPU, 64M), not on smp-hello's.
            string? soleImage = imagePath ?? parse.GetValue(kernel);
            Scenario scenario = scenarioPath is null && soleImage is not null
                ? new Scenario { Name = Path.GetFileName(soleImage) }
                : LoadScenario(scenarioPath);
            if (imagePath is not null)
            {
                scenario = scenario with { Guest = GuestSource.FromImage(imagePath) };
            }

            scenario = LinuxOptions(scenario, parse.GetValue(kernel), parse.GetValue(append), parse.GetValue(initrd), imagePath);
            if (parse.GetValue(load) is { } l)
            {
                scenario = scenario with { Load = CliNumbers.Number("--load", l) };
            }

            if (parse.GetValue(entry) is { } e)
            {
                scenario = scenario with { Entry = CliNumbers.Number("--entry", e) };
            }

            if (parse.GetValue(vcpus) is { } v)
            {
                scenario = scenario with { Vcpus = CliNumbers.Vcpus("--vcpus", v) };
            }

            if (parse.GetValue(memory) is { } m)
            {
                scenario = scenario with { Memory = CliNumbers.Memory("--memory", m) };
            }

            if (parse.GetValue(maxInstructions) is { } mi)
            {
                scenario = scenario with { MaxInstructions = CliNumbers.Positive("--max-instructions", mi) };
            }

            if (parse.GetValue(seed) is { } s)
            {
                scenario = scenario with { Seed = CliNumbers.Number("--seed", s) };
            }

            if (parse.GetValue(hostile) is { } hv)
            {
                ulong hostileSeed = CliNumbers.Number("--hostile-vmm", hv);
                scenario = scenario with { HostileVmm = (scenario.HostileVmm ?? HostileVmmSettings.Default) with { Seed = hostileSeed } };
            }

            scenario = scenario with
            {
                LogPath = parse.GetValue(log) is { } lp ? CliNumbers.FilePath("--log", lp) : scenario.LogPath,
                TracePath = parse.GetValue(trace) is { } tp ? CliNumbers.FilePath("--trace", tp) : scenario.TracePath,
                DumpStatePath = parse.GetValue(dump) is { } dp ? CliNumbers.FilePath("--dump-state", dp) : scenario.DumpStatePath,
                Deterministic = parse.GetValue(deterministic) || scenario.Deterministic,
                Quiet = parse.GetValue(quiet) || scenario.Quiet,
                AkkaConfig = AkkaConfigOption.Read(parse.GetValue(akkaConfig), scenario.AkkaConfig),
            };
            return Execute(scenario, stdout, stderr);
        });
        return command;
    }

    /// <summary>--kernel, --append, --initrd (contract section 9): a Linux guest instead of the scenario's guest.</summary>
    private static Scenario LinuxOptions(Scenario scenario, string? kernel, string? append, string? initrd, string? imagePath)
    {
        if (kernel is not null)
        {
            if (imagePath is not null)
            {
                throw new UsageException("run: --kernel and --image both name the guest; give one");
            }

            scenario = scenario with { Guest = GuestSource.FromKernel(CliNumbers.FilePath("--kernel", kernel)) };
        }

        if (append is not null)
        {
            scenario = scenario with { Append = append };
        }

        if (initrd is not null)
        {
            scenario = scenario with { InitrdPath = CliNumbers.FilePath("--initrd", initrd) };
        }

        if ((append is not null || initrd is not null) && scenario.Guest.KernelPath is null)
        {
            throw new UsageException("run: --append and --initrd need a Linux kernel (--kernel or the scenario key 'kernel')");
        }

        return scenario;
    }

    /// <summary>A scenario file, or a built-in scenario by name, or the default.</summary>
    private static Scenario LoadScenario(string? argument)
    {
        if (argument is null)
        {
            return ScenarioLoader.LoadEmbedded(ScenarioLoader.DefaultScenarioName);
        }

        if (File.Exists(argument))
        {
            return ScenarioLoader.LoadFile(argument);
        }

        if (!argument.Contains('/', StringComparison.Ordinal) && !argument.Contains('.', StringComparison.Ordinal)
            && ScenarioLoader.EmbeddedNames().Contains(argument))
        {
            return ScenarioLoader.LoadEmbedded(argument);
        }

        throw new ScenarioException($"{argument}: no such scenario file (built-in scenarios: {string.Join(", ", ScenarioLoader.EmbeddedNames())})");
    }

    private static int Execute(Scenario scenario, Stream stdout, TextWriter stderr)
    {
        using var outputs = RunOutputs.Open(scenario);
        using var signals = new SignalStop(stderr);
        MachineResult result = TdMachine.Run(scenario, new MachineIo(stdout, outputs.Observers) { Interrupt = signals.Interrupt, Contention = !scenario.Quiet });
        bool outputsWritten = outputs.Complete(stderr);

        if (result.Undelivered.Total != 0)
        {
            stderr.WriteLine($"tdxsim: {result.Undelivered.Describe()}");
        }

        const int shownFaults = 200;
        for (int f = 0; f < result.InjectedFaults.Count && f < shownFaults; f++)
        {
            stderr.WriteLine($"tdxsim: hostile VMM: {result.InjectedFaults[f]}");
        }

        if (result.InjectedFaults.Count > shownFaults)
        {
            stderr.WriteLine($"tdxsim: hostile VMM: ... and {result.InjectedFaults.Count - shownFaults} more faults (the message log's \"fault\" field marks every one)");
        }

        foreach (string fatal in result.ResumedFatalErrors)
        {
            stderr.WriteLine($"tdxsim: the guest reported a fatal error and the host resumed it: {fatal}");
        }

        foreach (ulong report in result.Reports)
        {
            stderr.WriteLine($"tdxsim: selftest report 0x{report:x}");
        }

        if (result.ExitStatus is ExitStatus.GuestFatal or ExitStatus.InternalError or ExitStatus.Interrupted or ExitStatus.Terminated
            || result.Reason == "reply-timeout")
        {
            stderr.WriteLine($"tdxsim: {result.Reason}: {result.Detail}");
        }

        if (outputs.DumpState is { } dumpFile)
        {
            try
            {
                DumpState.Write(result, dumpFile);
                dumpFile.Flush();
            }
            catch (IOException e)
            {
                stderr.WriteLine($"tdxsim: cannot write {scenario.DumpStatePath}: {e.Message}");
                outputsWritten = false;
            }
        }

        if (!scenario.Quiet)
        {
            Summary.Write(scenario, result, stderr);
        }

        // An output file that could not be written in full is the same bad output path as one refused before
        // the start: exit 2, so a script never takes a truncated log or final state for a good run. The guest's
        // own outcome is still on stderr (the summary, or the fatal-error line).
        return outputsWritten ? result.ExitStatus : ExitStatus.UsageError;
    }
}
