using System.CommandLine;

namespace TdxSim.Cli;

/// <summary><c>tdxsim stress</c> (contract section 4).</summary>
internal static class StressCommand
{
    public static Command Create(TextWriter stdout, TextWriter stderr)
    {
        var command = new Command("stress", "drive one operation from N vCPUs and report throughput and latency");
        _ = stdout;
        command.SetAction(_ =>
        {
            stderr.WriteLine("tdxsim: stress is being built");
            return 2;
        });
        return command;
    }
}
