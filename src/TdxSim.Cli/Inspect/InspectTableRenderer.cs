using System.Globalization;

namespace TdxSim.Cli.Inspect;

/// <summary>
/// Prints an <see cref="InspectReport"/> as the text table of <c>perf kvm stat report</c>: the same columns,
/// widths and number formats (times in microseconds with two decimals, the average with its relative standard
/// error), right-aligned plain text with no colour, so it reads the same on a terminal, in a file or in CI.
/// </summary>
public static class InspectTableRenderer
{
    private const int MinKeyWidth = 20;

    /// <summary>Writes the table to <paramref name="output"/>.</summary>
    public static void Write(InspectReport report, TextWriter output)
    {
        ArgumentNullException.ThrowIfNull(report);
        ArgumentNullException.ThrowIfNull(output);
        CultureInfo c = CultureInfo.InvariantCulture;
        (string title, string measures) = InspectReport.Describe(report.Key);
        int width = Math.Max(MinKeyWidth, Math.Max(title.Length, report.Rows.Count == 0 ? 0 : report.Rows.Max(r => r.Key.Length)));
        string scope = report.Vcpu is int vcpu ? string.Create(c, $"VCPU {vcpu}") : "all VCPUs";

        output.WriteLine(string.Create(c, $"Analyze {title} events for {scope}:"));
        output.WriteLine(string.Create(c, $"(time: {measures})"));
        output.WriteLine();
        output.WriteLine(string.Create(c, $"{title.PadLeft(width)} {"Samples",10} {"Samples%",9} {"Time%",9} {"Min Time",11} {"Max Time",11} {"Avg time",16}"));
        output.WriteLine();
        foreach (InspectRow row in report.Rows)
        {
            EventStatistics s = row.Statistics;
            output.WriteLine(string.Create(
                c,
                $"{row.Key.PadLeft(width)} {s.Count,10} {row.SamplesPercent,8:F2}% {row.TimePercent,8:F2}% {Us(s.MinNs),9:F2}us {Us(s.MaxNs),9:F2}us {s.AverageNs / 1000.0,9:F2}us ( +-{s.RelativeStddevPercent,7:F2}% )"));
        }

        output.WriteLine();
        output.WriteLine(string.Create(c, $"Total Samples:{report.TotalSamples}, Total events handled time:{Us(report.TotalNs):F2}us."));
    }

    private static double Us(long ns) => ns / 1000.0;
}
