using TdxSim.Runtime.Counters;
using System.Globalization;
using Spectre.Console;
using TdxSim.Guest.Diagnostics;
using TdxSim.Machine;
using TdxSim.Machine.Scenarios;

namespace TdxSim.Cli;

/// <summary>The run summary on stderr: how it ended, and per vCPU what it did.</summary>
internal static class Summary
{
    public static void Write(Scenario scenario, MachineResult result, TextWriter stderr)
    {
        IAnsiConsole console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Out = new AnsiConsoleOutput(stderr),
            Ansi = stderr == Console.Error && !Console.IsErrorRedirected ? AnsiSupport.Detect : AnsiSupport.No,
            ColorSystem = ColorSystemSupport.Detect,
        });
        if (console.Profile.Width < 120)
        {
            console.Profile.Width = 120;
        }

        double seconds = Math.Max(result.Elapsed.TotalSeconds, 1e-9);
        string head = string.Create(CultureInfo.InvariantCulture,
            $"tdxsim: {scenario.Name}: exit {result.ExitStatus} ({result.Reason}) after {result.Elapsed.TotalMilliseconds:F1} ms, {result.TotalInstructions:N0} instructions ({result.TotalInstructions / seconds / 1e6:F1} M/s)");
        if (scenario.Deterministic)
        {
            head += string.Create(CultureInfo.InvariantCulture, $", virtual time {result.VirtualNanoseconds / 1e6:F3} ms, seed {scenario.Seed}");
        }

        console.WriteLine(head);

        var table = new Table().Border(TableBorder.Simple);
        table.AddColumn("vCPU");
        table.AddColumn("state");
        table.AddColumn(new TableColumn("instructions").RightAligned());
        table.AddColumn(new TableColumn("#VE").RightAligned());
        table.AddColumn(new TableColumn("#VE p50").RightAligned());
        table.AddColumn(new TableColumn("TDCALL").RightAligned());
        table.AddColumn(new TableColumn("TDCALL p50").RightAligned());
        table.AddColumn("RIP");
        foreach (VcpuFinalState v in result.Vcpus)
        {
            VcpuStatistics? s = v.Index < result.Statistics.Count ? result.Statistics[v.Index] : null;
            table.AddRow(
                v.Index.ToString(CultureInfo.InvariantCulture),
                Markup.Escape(v.State),
                v.Instructions.ToString("N0", CultureInfo.InvariantCulture),
                (s?.VeCount ?? 0).ToString("N0", CultureInfo.InvariantCulture),
                Latency(s?.VeLatency),
                (s?.TdcallCount ?? 0).ToString("N0", CultureInfo.InvariantCulture),
                Latency(s?.TdcallLatency),
                $"0x{v.Rip:x}");
        }

        console.Write(table);
        if (result.Contention is { } contention)
        {
            console.Profile.Out.Writer.Flush();
            ContentionOutput.WriteTable(stderr, contention, limit: 12);
        }
    }

    private static string Latency(LatencyHistogram? h)
        => h is null || h.Count == 0 ? "-" : string.Create(CultureInfo.InvariantCulture, $"{h.Percentile(50) / 1000.0:F2} us");
}
