using System.CommandLine;

namespace TdxSim.Cli;

/// <summary><c>tdxsim inspect LOG.jsonl</c> (contract section 5).</summary>
internal static class InspectCommandLine
{
    public static Command Create(TextWriter stdout, TextWriter stderr)
    {
        var command = new Command("inspect", "summarise a message log");
        _ = stdout;
        command.SetAction(_ =>
        {
            stderr.WriteLine("tdxsim: inspect is being built");
            return 2;
        });
        return command;
    }
}
