using System.CommandLine;
using TdxSim.Cli.Inspect;

namespace TdxSim.Cli;

/// <summary><c>tdxsim inspect LOG.jsonl [--by KEY] [--vcpu N] [--follow CORR] [--json]</c> (contract section 5).</summary>
internal static class InspectCommandLine
{
    public static Command Create(TextWriter stdout, TextWriter stderr)
    {
        var log = new Argument<string>("log") { Description = "a message log written by tdxsim run --log" };
        var by = new Option<string?>("--by") { Description = $"key of the table: {string.Join(" | ", InspectKeys.Names)} (default subfn)" };
        var vcpu = new Option<string?>("--vcpu") { Description = "only this vCPU's requests" };
        var follow = new Option<string?>("--follow") { Description = "print every message of one request (a correlation id), in order" };
        var json = new Option<bool>("--json") { Description = "print the same data as JSON" };

        var command = new Command("inspect", "summarise a message log in the style of perf kvm stat report");
        command.Arguments.Add(log);
        command.Options.Add(by);
        command.Options.Add(vcpu);
        command.Options.Add(follow);
        command.Options.Add(json);
        command.SetAction(parse =>
        {
            InspectKey? key = null;
            if (parse.GetValue(by) is { } b)
            {
                key = InspectKeys.TryParse(b, out InspectKey k)
                    ? k
                    : throw new UsageException($"--by: '{b}' is not one of {string.Join(", ", InspectKeys.Names)}");
            }

            var options = new InspectOptions(parse.GetValue(log)!)
            {
                By = key,
                Vcpu = parse.GetValue(vcpu) is { } v ? (int)AtMost("--vcpu", v, int.MaxValue) : null,
                Follow = parse.GetValue(follow) is { } f ? (long)AtMost("--follow", f, long.MaxValue) : null,
                Json = parse.GetValue(json),
            };
            return InspectCommand.Run(options, stdout, stderr);
        });
        return command;
    }

    /// <summary>Clamping instead would filter on, and report, a number the user did not ask for.</summary>
    private static ulong AtMost(string option, string text, ulong max)
    {
        ulong v = CliNumbers.Number(option, text);
        return v <= max ? v : throw new UsageException($"{option}: {v} is out of range (at most {max})");
    }
}
