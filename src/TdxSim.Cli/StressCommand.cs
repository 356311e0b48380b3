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

        var command = new Command("stress", "drive one operation from N vCPUs as fast as possible; report throughput and latency");
        foreach (Option option in new Option[] { vcpus, op, path, count, seconds, vmm, module, json, deterministic, seed, warmup, log, trace, akkaConfig })
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
                Vmm = parse.GetValue(vmm) switch
                {
                    null or "single" => VmmTopology.Single,
                    "per-vcpu" => VmmTopology.PerVcpu,
                    string other => throw new UsageException($"--vmm: '{other}' is not one of single, per-vcpu"),
                },
                Module = parse.GetValue(module) switch
                {
                    null or "single" => ModuleTopology.Single,
                    "per-vcpu" => ModuleTopology.PerVcpu,
                    string other => throw new UsageException($"--module: '{other}' is not one of single, per-vcpu"),
                },
                Deterministic = parse.GetValue(deterministic),
                Seed = parse.GetValue(seed) is { } sd ? CliNumbers.Number("--seed", sd) : 0,
                Warmup = parse.GetValue(warmup) is { } w ? CliNumbers.Number("--warmup", w) : null,
                AkkaConfig = AkkaConfigOption.Read(parse.GetValue(akkaConfig), null),
            };

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
            json.WriteStartObject();
            json.WriteString("op", Name(r.Options.Op));
            json.WriteString("path", Name(r.Options.Path));
            json.WriteNumber("vcpus", r.Options.Vcpus);
            json.WriteString("vmm", r.Options.Vmm == VmmTopology.Single ? "single" : "per-vcpu");
            json.WriteString("module", r.Options.Module == ModuleTopology.Single ? "single" : "per-vcpu");
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
            json.WriteEndObject();
        }

        stdout.WriteLine(System.Text.Encoding.UTF8.GetString(buffer.ToArray()));
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
    }
}
