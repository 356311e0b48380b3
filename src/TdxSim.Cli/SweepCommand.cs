using System.CommandLine;
using System.Globalization;
using TdxSim.Machine;
using TdxSim.Machine.Scenarios;
using TdxSim.Sweep;

namespace TdxSim.Cli;

/// <summary>
/// <c>tdxsim sweep SCENARIO --seeds A..B</c> and <c>tdxsim worker --join HOST:PORT</c> (contract section 11): one
/// deterministic run per seed and vCPU count, in process or across an Akka.Cluster of workers.
/// </summary>
internal static class SweepCommand
{
    /// <summary>Exit status of a sweep in which some run did not exit 0.</summary>
    public const int SomeRunsFailed = 1;

    public static Command Create(Stream stdout, TextWriter stderr)
    {
        var scenarioArg = new Argument<string>("scenario") { Description = "scenario file (YAML) or the name of a built-in scenario" };
        var seeds = new Option<string?>("--seeds") { Description = "seeds to run, A..B inclusive (decimal or 0x hex)", Required = true };
        var vcpus = new Option<string?>("--vcpus") { Description = "vCPU counts, e.g. 2,8: every seed runs with each (default: the scenario's)" };
        var json = new Option<bool>("--json") { Description = "print every run and the summary as one JSON object on stdout" };
        var output = new Option<string?>("--out") { Description = "append each result to this JSON Lines file as it arrives" };
        var resume = new Option<bool>("--resume") { Description = "keep --out's results and run only what it lacks" };
        var workers = new Option<string?>("--workers") { Description = "in-process workers (default: one per core)" };
        var cluster = new Option<string?>("--cluster") { Description = "coordinate a cluster on HOST:PORT (the seed node) instead of running in process" };
        var minWorkers = new Option<string?>("--min-workers") { Description = "with --cluster: workers to wait for before the first run (default 1)" };
        var akkaConfig = NodeConfigOption();

        var command = new Command("sweep", "run a scenario deterministically once per seed (and vCPU count); group the failures");
        command.Arguments.Add(scenarioArg);
        foreach (Option option in new Option[] { seeds, vcpus, json, output, resume, workers, cluster, minWorkers, akkaConfig })
        {
            command.Options.Add(option);
        }

        command.SetAction(parse =>
        {
            string argument = parse.GetValue(scenarioArg)!;
            if (argument.StartsWith('-'))
            {
                throw new UsageException($"sweep: unknown option '{argument}' (see tdxsim sweep --help)");
            }

            SeedRange range;
            try
            {
                range = SeedRange.Parse(parse.GetValue(seeds)!);
            }
            catch (FormatException e)
            {
                throw new UsageException($"sweep: --seeds: {e.Message}");
            }

            Endpoint? at = parse.GetValue(cluster) is { } c ? ParseEndpoint("sweep: --cluster", c) : null;
            if (parse.GetValue(resume) && parse.GetValue(output) is null)
            {
                throw new UsageException("sweep: --resume needs --out (the results file to continue)");
            }

            if (parse.GetValue(minWorkers) is not null && at is null)
            {
                throw new UsageException("sweep: --min-workers needs --cluster");
            }

            if (parse.GetValue(workers) is not null && at is not null)
            {
                throw new UsageException("sweep: --workers is for in-process sweeps; with --cluster, start workers with 'tdxsim worker --join'");
            }

            ScenarioSpec spec = ScenarioSpec.FromArgument(argument);
            Scenario scenario = spec.Load();
            IReadOnlyList<int> counts = parse.GetValue(vcpus) is { } v ? VcpuList(v) : [scenario.Vcpus];
            var plan = new SweepPlan(spec, range, counts);
            if (plan.Total > SeedRange.MaxRuns)
            {
                throw new UsageException($"sweep: {plan.Total} runs is more than {SeedRange.MaxRuns}; split the sweep");
            }

            var options = new SweepOptions
            {
                Plan = plan,
                OutPath = parse.GetValue(output) is { } o ? CliNumbers.FilePath("--out", o) : null,
                Resume = parse.GetValue(resume),
                LocalWorkers = parse.GetValue(workers) is { } w ? (int)Math.Min(1024, CliNumbers.Positive("--workers", w)) : Environment.ProcessorCount,
                Cluster = at,
                MinWorkers = parse.GetValue(minWorkers) is { } m ? (int)Math.Min(100_000, CliNumbers.Positive("--min-workers", m)) : 1,
                AkkaConfig = AkkaConfigOption.Read(parse.GetValue(akkaConfig), null),
                Terminal = !Console.IsErrorRedirected && ReferenceEquals(stderr, Console.Error),
            };
            SweepOutcome outcome = Run(options, stderr);
            if (parse.GetValue(json))
            {
                SweepReport.WriteJson(stdout, plan, outcome);
                stdout.Flush();
            }
            else
            {
                using var text = new StreamWriter(stdout, leaveOpen: true);
                SweepReport.WriteText(text, plan, outcome, at is null ? string.Create(CultureInfo.InvariantCulture, $"done on {options.LocalWorkers} in-process workers") : $"done by the cluster at {at}");
            }

            return outcome.Failed == 0 ? ExitStatus.Success : SomeRunsFailed;
        });
        return command;
    }

    public static Command CreateWorker(TextWriter stderr)
    {
        var join = new Option<string?>("--join") { Description = "the sweep coordinator's HOST:PORT (its --cluster)", Required = true };
        var slots = new Option<string?>("--slots") { Description = "runs at once (default: one per core)" };
        var host = new Option<string?>("--host") { Description = "the address this worker listens on and is reached at (default: the one facing the coordinator)" };
        var port = new Option<string?>("--port") { Description = "this worker's port (default: any free one)" };
        var timeout = new Option<string?>("--join-timeout") { Description = "seconds to wait for the coordinator (default 30)" };
        var akkaConfig = NodeConfigOption();
        var command = new Command("worker", "join a sweep cluster (tdxsim sweep ... --cluster HOST:PORT) and take runs until it is finished");
        foreach (Option option in new Option[] { join, slots, host, port, timeout, akkaConfig })
        {
            command.Options.Add(option);
        }

        command.SetAction(parse =>
        {
            Endpoint at = ParseEndpoint("worker: --join", parse.GetValue(join)!);
            int n = parse.GetValue(slots) is { } s ? (int)Math.Min(1024, CliNumbers.Positive("--slots", s)) : Environment.ProcessorCount;
            ulong p = parse.GetValue(port) is { } ps ? CliNumbers.Number("--port", ps) : 0;
            if (p > 65535)
            {
                throw new UsageException($"worker: --port: {p} is not a port (0 to 65535)");
            }

            ulong seconds = parse.GetValue(timeout) is { } t ? CliNumbers.Positive("--join-timeout", t) : 30;
            Akka.Configuration.Config? config = AkkaConfigOption.Read(parse.GetValue(akkaConfig), null);
            WorkerExit exit;
            try
            {
                exit = SweepHost.RunWorker(at, n, parse.GetValue(host), (int)p, TimeSpan.FromSeconds(Math.Min(seconds, 86_400)), stderr, config);
            }
            catch (SweepInputException e)
            {
                throw new UsageException($"worker: {e.Message}");
            }

            stderr.WriteLine($"tdxsim: worker: {exit.Message}");
            return exit.Status;
        });
        return command;
    }

    /// <summary><c>--akka-config FILE</c> on sweep nodes: HOCON over the node's own cluster configuration, e.g. the failure detector.</summary>
    private static Option<string?> NodeConfigOption()
        => new("--akka-config") { Description = "Akka.NET HOCON file laid over this node's sweep configuration (not the runs')" };

    private static SweepOutcome Run(SweepOptions options, TextWriter stderr)
    {
        try
        {
            return SweepHost.Run(options, stderr);
        }
        catch (SweepInputException e)
        {
            throw new UsageException($"sweep: {e.Message}");
        }
    }

    private static Endpoint ParseEndpoint(string what, string text)
    {
        try
        {
            return Endpoint.Parse(text);
        }
        catch (FormatException e)
        {
            throw new UsageException($"{what}: {e.Message}");
        }
    }

    private static List<int> VcpuList(string text)
    {
        var counts = new List<int>();
        foreach (string part in text.Split(','))
        {
            int n = CliNumbers.Vcpus("--vcpus", part.Trim());
            if (counts.Contains(n))
            {
                throw new UsageException($"sweep: --vcpus: {n} is given twice");
            }

            counts.Add(n);
        }

        return counts;
    }
}
