using ScottPlot;
using TdxSim.Images.Guests;
using TdxSim.Machine.Stress;
using TdxSim.Machine.Scenarios;

namespace TdxSim.Cli;

/// <summary>
/// <c>stress --sweep-vcpus ... --plot FILE</c>: throughput, and p50/p99 latency, against vCPUs, one series per
/// VMM/module topology, drawn with ScottPlot (SVG or PNG by the file's extension).
/// </summary>
internal static class StressPlot
{
    public static bool Supports(string path) =>
        path.EndsWith(".svg", StringComparison.OrdinalIgnoreCase) || path.EndsWith(".png", StringComparison.OrdinalIgnoreCase);

    public static void Save(string path, IReadOnlyList<StressResult> results)
    {
        var throughput = new ScottPlot.Plot();
        var latency = new ScottPlot.Plot();
        var groups = results.GroupBy(r => (r.Options.Vmm, r.Options.Module)).ToList();
        StressOptions first = results[0].Options;
        string what = $"{first.Op.ToString().ToLowerInvariant()} by {(first.Path == IoPath.Ve ? "#VE" : "paravirt TDVMCALL")}{(first.Deterministic ? ", virtual time" : string.Empty)}";
        foreach (var group in groups)
        {
            StressResult[] runs = [.. group.OrderBy(r => r.Options.Vcpus)];
            double[] xs = [.. runs.Select(r => Math.Log2(r.Options.Vcpus))];
            string label = $"VMM {Name(group.Key.Vmm)}, module {Name(group.Key.Module)}";
            var line = throughput.Add.Scatter(xs, runs.Select(r => Math.Log10(Math.Max(1, r.OpsPerSecond))).ToArray());
            line.LegendText = label;
            line.LineWidth = 2;
            var p50 = latency.Add.Scatter(xs, runs.Select(r => Math.Log10(Math.Max(1, r.LatencyNs.P50))).ToArray());
            p50.LegendText = label;
            p50.LineWidth = 2;
            var p99 = latency.Add.Scatter(xs, runs.Select(r => Math.Log10(Math.Max(1, r.LatencyNs.P99))).ToArray());
            p99.LinePattern = ScottPlot.LinePattern.Dashed;
            p99.Color = p50.Color;
        }

        int[] ticks = [.. results.Select(r => r.Options.Vcpus).Distinct().Order()];
        foreach ((ScottPlot.Plot plot, string title, string y) in new[]
        {
            (throughput, $"Throughput ({what})", "ops/s"),
            (latency, "Round-trip latency, p50 (solid) and p99 (dashed)", "ns"),
        })
        {
            plot.Title(title);
            plot.XLabel("vCPUs");
            plot.YLabel(y);
            plot.Axes.Bottom.SetTicks([.. ticks.Select(t => Math.Log2(t))], [.. ticks.Select(t => t.ToString(System.Globalization.CultureInfo.InvariantCulture))]);
            plot.ShowLegend(ScottPlot.Alignment.UpperLeft);

            // Logarithmic values: decades as major ticks, labelled with the real value.
            plot.Axes.Left.TickGenerator = new ScottPlot.TickGenerators.NumericAutomatic
            {
                MinorTickGenerator = new ScottPlot.TickGenerators.LogMinorTickGenerator(),
                IntegerTicksOnly = true,
                LabelFormatter = v => Math.Pow(10, v).ToString("N0", System.Globalization.CultureInfo.InvariantCulture),
            };
        }

        // One image, the two plots side by side.
        ScottPlot.IMultiplot multi = new ScottPlot.Multiplot(throughput);
        multi.AddPlot(latency);
        multi.Layout = new ScottPlot.MultiplotLayouts.Columns();
        const int width = 1400, height = 520;
        if (path.EndsWith(".png", StringComparison.OrdinalIgnoreCase))
        {
            multi.SavePng(path, width, height);
        }
        else
        {
            using var file = File.Create(path);
            using (var canvas = SkiaSharp.SKSvgCanvas.Create(new SkiaSharp.SKRect(0, 0, width, height), file))
            {
                multi.Render(canvas, new ScottPlot.PixelRect(0, width, height, 0));
            }
        }
    }

    private static string Name(VmmTopology t) => t == VmmTopology.Single ? "single" : "per-vCPU";

    private static string Name(ModuleTopology t) => t == ModuleTopology.Single ? "single" : "per-vCPU";
}
