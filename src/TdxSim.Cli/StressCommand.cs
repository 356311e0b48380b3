using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using TdxSim.Images.Guests;
using TdxSim.Machine;
using TdxSim.Machine.Scenarios;
using TdxSim.Machine.Stress;

namespace TdxSim.Cli;

/// <summary><c>tdxsim stress</c> (contract section 4): drive one operation from N vCPUs and report throughput and latency.</summary>
internal static class StressCommand
{
    public static Command Create(TextWriter stdout, TextWriter stderr)
    {
        var vcpus = new Option<string?>("--vcpus") { Description = "number of vCPUs (default 1)" };
        var op = new Option<string?>("--op") { Description = "pio | mmio | cpuid | msr | vmcall (default pio)" };
        var path = new Option<string?>("--path") { Description = "ve | paravirt (default ve)" };
        var count = new Option<string?>("--count") { Description = "total operations, split over the vCPUs (default 100000)" };
        var seconds = new Option<string?>("--seconds") { Description = "run for this long instead of --count" };
        var vmm = new Option<string?>("--vmm") { Description = "single | per-vcpu (default single)" };
        var module = new Option<string?>("--module") { Description = "single | per-vcpu: one TDX module actor, or one per vCPU as the hardware runs it (default single)" };
        var json = new Option<bool>("--json") { Description = "print one JSON object on stdout" };
        var deterministic = new Option<bool>("--deterministic") { Description = "deterministic dispatcher: virtual time and its cost model" };
        var seed = new Option<string?>("--seed") { Description = "seed (default 0)" };
        var log = new Option<string?>("--log") { Description = "write the message log (JSON Lines) of the run, warm-up included" };
        var trace = new Option<string?>("--trace") { Description = "write a Perfetto/Chrome trace of the run" };
        var warmup = new Option<string?>("--warmup") { Description = "operations run before measuring (default: a fifth of --count, at most 200000; 0 with --seconds or --deterministic)" };
        var akkaConfig = AkkaConfigOption.Create();
        var cost = new Option<string[]>("--cost")
        {
            Description = "KEY=NS or MAP/NAME=NS (e.g. vmm_ns=1000, device_ns/com1=200): a virtual-time cost of --deterministic; repeatable",
            AllowMultipleArgumentsPerToken = false,
        };
        var sweepVcpus = new Option<string?>("--sweep-vcpus") { Description = "run once per vCPU count (e.g. 1,2,4,8) and print a JSON array with --json; --vmm and --module then take lists (single,per-vcpu)" };
        var plot = new Option<string?>("--plot") { Description = "with --sweep-vcpus: draw throughput and p50/p99 latency against vCPUs into FILE.svg or FILE.png" };

        var command = new Command("stress", "drive one operation from N vCPUs as fast as possible; report throughput and latency");
        foreach (Option option in new Option[] { vcpus, op, path, count, seconds, vmm, module, json, deterministic, seed, warmup, log, trace, akkaConfig, cost, sweepVcpus, plot })
        {
            command.Options.Add(option);
        }

        command.SetAction(parse =>
        {
            if (parse.GetValue(count) is not null && parse.GetValue(seconds) is not null)
            {
                throw new UsageException("--count and --seconds cannot be combined");
            }

            var options = new StressOptions
            {
                Vcpus = parse.GetValue(vcpus) is { } v ? CliNumbers.Vcpus("--vcpus", v) : 1,
                Op = parse.GetValue(op) switch
                {
                    null or "pio" => StressOp.Pio,
                    "mmio" => StressOp.Mmio,
                    "cpuid" => StressOp.Cpuid,
                    "msr" => StressOp.Msr,
                    "vmcall" => StressOp.Vmcall,
                    string other => throw new UsageException($"--op: '{other}' is not one of pio, mmio, cpuid, msr, vmcall"),
                },
                Path = parse.GetValue(path) switch
                {
                    null or "ve" => IoPath.Ve,
                    "paravirt" => IoPath.Paravirt,
                    string other => throw new UsageException($"--path: '{other}' is not one of ve, paravirt"),
                },
                Count = parse.GetValue(seconds) is null
                    ? parse.GetValue(count) is { } c ? CliNumbers.Positive("--count", c) : 100_000
                    : null,
                Seconds = parse.GetValue(seconds) is { } s ? ParseSeconds(s) : null,
                Deterministic = parse.GetValue(deterministic),
                Seed = parse.GetValue(seed) is { } sd ? CliNumbers.Number("--seed", sd) : 0,
                Warmup = parse.GetValue(warmup) is { } w ? CliNumbers.Number("--warmup", w) : null,
                AkkaConfig = AkkaConfigOption.Read(parse.GetValue(akkaConfig), null),
                Costs = ParseCosts(parse.GetValue(cost) ?? []),
            };

            bool sweeping = parse.GetValue(sweepVcpus) is not null;
            VmmTopology[] vmms = Topologies("--vmm", parse.GetValue(vmm), sweeping, VmmTopology.Single, VmmTopology.PerVcpu);
            ModuleTopology[] modules = Topologies("--module", parse.GetValue(module), sweeping, ModuleTopology.Single, ModuleTopology.PerVcpu);
            string? plotPath = parse.GetValue(plot) is { } pp ? CliNumbers.FilePath("--plot", pp) : null;
            if (plotPath is not null && !sweeping)
            {
                throw new UsageException("--plot draws a curve against vCPUs: it needs --sweep-vcpus");
            }

            if (plotPath is not null && !StressPlot.Supports(plotPath))
            {
                throw new UsageException($"--plot: '{plotPath}' must end in .svg or .png");
            }

            if (sweeping)
            {
                if (parse.GetValue(log) is not null || parse.GetValue(trace) is not null || parse.GetValue(vcpus) is not null)
                {
                    throw new UsageException("--sweep-vcpus runs many stresses: it cannot be combined with --vcpus, --log or --trace");
                }

                int[] counts = SweepCounts(parse.GetValue(sweepVcpus)!);
                return Sweep(options, counts, vmms, modules, parse.GetValue(json), plotPath, stdout, stderr);
            }

            options = options with { Vmm = vmms[0], Module = modules[0] };

            using var outputs = RunOutputs.Open(new Scenario
            {
                LogPath = parse.GetValue(log) is { } lp ? CliNumbers.FilePath("--log", lp) : null,
                TracePath = parse.GetValue(trace) is { } tp ? CliNumbers.FilePath("--trace", tp) : null,
            });
            using var signals = new SignalStop(stderr);
            StressResult result = StressRunner.Run(options with { Interrupt = signals.Interrupt, Observers = outputs.Observers });
            bool logged = outputs.Complete(stderr);
            if (parse.GetValue(json))
            {
                WriteJson(result, stdout);
            }
            else
            {
                WriteText(result, stdout);
            }

            if (result.Undelivered.Total != 0)
            {
                stderr.WriteLine($"tdxsim: {result.Undelivered.Describe()}");
            }

            if (!logged)
            {
                // A log or trace that lost messages is a failed output, as with run (contract section 2).
                return ExitStatus.UsageError;
            }

            // --seconds ends on the time limit; with --count, a limit means the guest did not complete its operations.
            bool finished = result.ExitStatus == ExitStatus.Success
                || (result.ExitStatus == ExitStatus.LimitReached && options.Seconds is not null);
            if (!finished)
            {
                stderr.WriteLine($"tdxsim: stress run ended with exit {result.ExitStatus} ({result.Reason}): {result.Detail}");
                return result.ExitStatus;
            }

            return ExitStatus.Success;
        });
        return command;
    }

    private static int Sweep(
        StressOptions options, int[] counts, VmmTopology[] vmms, ModuleTopology[] modules, bool json, string? plotPath,
        TextWriter stdout, TextWriter stderr)
    {
        var results = new List<StressResult>();
        using var signals = new SignalStop(stderr);
        foreach (VmmTopology vmm in vmms)
        {
            foreach (ModuleTopology module in modules)
            {
                foreach (int n in counts)
                {
                    StressResult r = StressRunner.Run(options with { Vcpus = n, Vmm = vmm, Module = module, Interrupt = signals.Interrupt });
                    results.Add(r);
                    FormattableString progress = $"tdxsim: stress {Name(vmm)} VMM, {Name(module)} module, {n} vCPU(s): {r.OpsPerSecond:N0} ops/s, p50 {r.LatencyNs.P50:N0} ns";
                    stderr.WriteLine(progress.ToString(CultureInfo.InvariantCulture));
                    if (r.ExitStatus != ExitStatus.Success && !(r.ExitStatus == ExitStatus.LimitReached && options.Seconds is not null))
                    {
                        stderr.WriteLine($"tdxsim: stress run at {n} vCPU(s) ended with exit {r.ExitStatus} ({r.Reason}): {r.Detail}");
                        return r.ExitStatus;
                    }
                }
            }
        }

        if (json)
        {
            using var buffer = new MemoryStream();
            using (var writer = new Utf8JsonWriter(buffer))
            {
                writer.WriteStartArray();
                foreach (StressResult r in results)
                {
                    WriteObject(writer, r);
                }

                writer.WriteEndArray();
            }

            stdout.WriteLine(System.Text.Encoding.UTF8.GetString(buffer.ToArray()));
        }
        else
        {
            stdout.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{"vmm",-9} {"module",-9} {"vcpus",5} {"ops/s",14} {"p50 ns",10} {"p99 ns",10} {"fairness",8}  bottleneck"));
            foreach (StressResult r in results)
            {
                ActorLoad? b = r.Contention?.Bottleneck;
                stdout.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"{Name(r.Options.Vmm),-9} {Name(r.Options.Module),-9} {r.Options.Vcpus,5} {r.OpsPerSecond,14:N0} {r.LatencyNs.P50,10:N0} {r.LatencyNs.P99,10:N0} {r.Fairness,8:F3}  {(b is null ? "-" : $"{b.Actor} ({b.Utilization:P0})")}"));
            }
        }

        if (plotPath is not null)
        {
            try
            {
                StressPlot.Save(plotPath, results);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new UsageException($"--plot: cannot write '{plotPath}': {e.Message}");
            }

            stderr.WriteLine($"tdxsim: plot written to {plotPath}");
        }

        return ExitStatus.Success;
    }

    private static T[] Topologies<T>(string option, string? text, bool list, T single, T perVcpu)
    {
        if (text is null)
        {
            return [single];
        }

        string[] parts = text.Split(',', StringSplitOptions.TrimEntries);
        if (parts.Length > 1 && !list)
        {
            throw new UsageException($"{option}: a list ('{text}') needs --sweep-vcpus");
        }

        var result = new List<T>();
        foreach (string part in parts)
        {
            T value = part switch
            {
                "single" => single,
                "per-vcpu" => perVcpu,
                _ => throw new UsageException($"{option}: '{part}' is not one of single, per-vcpu"),
            };
            if (!result.Contains(value))
            {
                result.Add(value);
            }
        }

        return [.. result];
    }

    private static int[] SweepCounts(string text)
    {
        var counts = new List<int>();
        foreach (string part in text.Split(',', StringSplitOptions.TrimEntries))
        {
            if (part.Length == 0)
            {
                throw new UsageException($"--sweep-vcpus: '{text}' is not a list of vCPU counts (e.g. 1,2,4,8)");
            }

            counts.Add(CliNumbers.Vcpus("--sweep-vcpus", part));
        }

        return [.. counts.Distinct()];
    }

    /// <summary><c>--cost KEY=NS</c> or <c>--cost MAP/NAME=NS</c>, applied in order over the defaults.</summary>
    internal static CostModelSettings ParseCosts(IEnumerable<string> settings)
    {
        var costs = new CostModelSettings();
        foreach (string setting in settings)
        {
            int equals = setting.IndexOf('=', StringComparison.Ordinal);
            if (equals <= 0)
            {
                throw new UsageException($"--cost: '{setting}' is not KEY=NS or MAP/NAME=NS");
            }

            string key = setting[..equals];
            string? name = null;
            int slash = key.IndexOf('/', StringComparison.Ordinal);
            if (slash > 0)
            {
                name = key[(slash + 1)..];
                key = key[..slash];
            }

            costs = costs.With(key, name, setting[(equals + 1)..], out CostSettingError? problem)
                ?? throw new UsageException($"--cost: {problem!.Message}");
        }

        return costs;
    }

    private static string Name(VmmTopology t) => t == VmmTopology.Single ? "single" : "per-vcpu";

    private static string Name(ModuleTopology t) => t == ModuleTopology.Single ? "single" : "per-vcpu";

    private static double ParseSeconds(string text)
        => double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out double s) && s > 0 && s <= 86_400
            ? s
            : throw new UsageException($"--seconds: '{text}' is not a duration in seconds (0 < s <= 86400)");

    private static string Name(StressOp op) => op.ToString().ToLowerInvariant();

    private static string Name(IoPath path) => path == IoPath.Ve ? "ve" : "paravirt";

    private static void WriteJson(StressResult r, TextWriter stdout)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            WriteObject(json, r);
        }

        stdout.WriteLine(System.Text.Encoding.UTF8.GetString(buffer.ToArray()));
    }

    private static void WriteObject(Utf8JsonWriter json, StressResult r)
    {
        {
            json.WriteStartObject();
            json.WriteString("op", Name(r.Options.Op));
            json.WriteString("path", Name(r.Options.Path));
            json.WriteNumber("vcpus", r.Options.Vcpus);
            json.WriteString("vmm", Name(r.Options.Vmm));
            json.WriteString("module", Name(r.Options.Module));
            json.WriteBoolean("deterministic", r.Options.Deterministic);
            json.WriteNumber("ops", r.Ops);
            json.WriteNumber("warmup_ops", r.WarmupOps);
            json.WriteNumber("seconds", Math.Round(r.Seconds, 6));
            json.WriteNumber("ops_per_sec", Math.Round(r.OpsPerSecond, 1));
            json.WriteStartObject("latency_ns");
            json.WriteNumber("p50", r.LatencyNs.P50);
            json.WriteNumber("p99", r.LatencyNs.P99);
            json.WriteNumber("p999", r.LatencyNs.P999);
            json.WriteNumber("max", r.LatencyNs.Max);
            json.WriteNumber("mean", Math.Round(r.LatencyNs.Mean, 1));
            json.WriteEndObject();
            json.WriteNumber("messages", r.Messages);
            // Messages of the whole run, warm-up included, so per operation over every operation run.
            long allOps = r.Ops + (long)r.WarmupOps;
            json.WriteNumber("messages_per_op", allOps == 0 ? 0 : Math.Round((double)r.Messages / allOps, 2));
            json.WriteNumber("instructions", r.Instructions);
            json.WriteStartObject("undelivered");
            json.WriteNumber("dead_letters", r.Undelivered.DeadLetters);
            json.WriteNumber("dropped", r.Undelivered.Dropped);
            json.WriteNumber("unhandled", r.Undelivered.Unhandled);
            json.WriteEndObject();
            json.WriteNumber("exit_status", r.ExitStatus);
            json.WriteString("exit_reason", r.Reason);
            json.WriteStartArray("vcpu_ops");
            foreach (long ops in r.VcpuOps)
            {
                json.WriteNumberValue(ops);
            }

            json.WriteEndArray();
            json.WriteNumber("fairness", Math.Round(r.Fairness, 6));
            if (r.Contention is { } contention)
            {
                ContentionOutput.WriteJson(json, contention);
            }

            if (r.Options.Deterministic)
            {
                WriteCosts(json, r.Options.Costs);
            }

            json.WriteEndObject();
        }
    }

    /// <summary>Every cost of the model, as <c>cost_model</c>.</summary>
    internal static void WriteCosts(Utf8JsonWriter json, CostModelSettings costs)
    {
        json.WriteStartObject("cost_model");
        foreach ((string key, object value) in costs.Describe())
        {
            switch (value)
            {
                case double d:
                    json.WriteNumber(key, d);
                    break;
                case long l:
                    json.WriteNumber(key, l);
                    break;
                case IReadOnlyDictionary<string, long> map:
                    json.WriteStartObject(key);
                    foreach ((string name, long ns) in map)
                    {
                        json.WriteNumber(name, ns);
                    }

                    json.WriteEndObject();
                    break;
            }
        }

        json.WriteEndObject();
    }

    private static void WriteText(StressResult r, TextWriter stdout)
    {
        FormattableString line = $"{Name(r.Options.Op)} by {Name(r.Options.Path)} on {r.Options.Vcpus} vCPU(s), {(r.Options.Vmm == VmmTopology.Single ? "one VMM" : "one VMM per vCPU")}{(r.Options.Module == ModuleTopology.Single ? string.Empty : ", one TDX module per vCPU")}{(r.Options.Deterministic ? ", virtual time" : string.Empty)}";
        stdout.WriteLine(line.ToString(CultureInfo.InvariantCulture));
        FormattableString stats = $"  {r.Ops:N0} ops in {r.Seconds:F3} s: {r.OpsPerSecond:N0} ops/s; latency p50 {r.LatencyNs.P50:N0} ns, p99 {r.LatencyNs.P99:N0} ns, p99.9 {r.LatencyNs.P999:N0} ns, max {r.LatencyNs.Max:N0} ns";
        stdout.WriteLine(stats.ToString(CultureInfo.InvariantCulture));
        long allOps = r.Ops + (long)r.WarmupOps;
        FormattableString messages = $"  {r.Messages:N0} messages ({(allOps == 0 ? 0 : (double)r.Messages / allOps):F1} per op, {r.WarmupOps:N0} warm-up ops included), {r.Instructions:N0} guest instructions";
        stdout.WriteLine(messages.ToString(CultureInfo.InvariantCulture));
        FormattableString fairness = $"  per vCPU: {string.Join(" ", r.VcpuOps.Select(o => o.ToString("N0", CultureInfo.InvariantCulture)))} ops; fairness (Jain) {r.Fairness:F3}";
        stdout.WriteLine(fairness.ToString(CultureInfo.InvariantCulture));
        if (r.Contention is { } contention)
        {
            ContentionOutput.WriteTable(stdout, contention);
        }
    }
}
