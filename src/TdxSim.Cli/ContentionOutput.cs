using System.Globalization;
using System.Text.Json;
using TdxSim.Machine;

namespace TdxSim.Cli;

/// <summary>The contention report (contract section 4) as JSON and as a table.</summary>
internal static class ContentionOutput
{
    /// <summary>Writes <c>actors</c>, <c>devices</c> and <c>bottleneck</c> into the open object.</summary>
    public static void WriteJson(Utf8JsonWriter json, ContentionReport report)
    {
        json.WriteBoolean("contention_modelled", report.Modelled);
        json.WriteStartArray("actors");
        foreach (ActorLoad a in report.Actors)
        {
            json.WriteStartObject();
            json.WriteString("actor", a.Actor);
            json.WriteNumber("messages", a.Messages);
            json.WriteNumber("busy_ns", a.BusyNs);
            json.WriteNumber("utilization", Math.Round(a.Utilization, 4));
            WriteWait(json, a);
            json.WriteNumber("max_queue", a.MaxQueue);
            json.WriteEndObject();
        }

        json.WriteEndArray();
        json.WriteStartArray("devices");
        foreach (ActorLoad d in report.Devices)
        {
            json.WriteStartObject();
            json.WriteString("device", d.Actor.StartsWith("device/", StringComparison.Ordinal) ? d.Actor["device/".Length..] : d.Actor);
            json.WriteNumber("accesses", d.Messages);
            json.WriteNumber("contended", d.MaxQueue);
            json.WriteNumber("busy_ns", d.BusyNs);
            json.WriteNumber("utilization", Math.Round(d.Utilization, 4));
            WriteWait(json, d);
            json.WriteEndObject();
        }

        json.WriteEndArray();
        if (report.Bottleneck is { } b)
        {
            json.WriteString("bottleneck", b.Actor);
        }
    }

    /// <summary>The report as a table: one line per actor and device, the busiest marked.</summary>
    public static void WriteTable(TextWriter output, ContentionReport report, string indent = "  ", int limit = int.MaxValue)
    {
        string source = report.Modelled ? "modelled in virtual time" : "measured";
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{indent}contention ({source}, over {report.DurationNs / 1e6:F3} ms):"));
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{indent}{"actor",-16} {"messages",10} {"busy ms",10} {"util",6} {"wait p50",10} {"wait p99",10} {"wait max",10} {"max q",6}"));
        ActorLoad? bottleneck = report.Bottleneck;
        List<ActorLoad> rows = [.. report.Actors.Concat(report.Devices)];
        if (rows.Count > limit)
        {
            // The busiest first when not all fit.
            rows = [.. rows.OrderByDescending(r => r.Utilization).ThenBy(r => r.Actor, StringComparer.Ordinal).Take(limit)];
        }

        foreach (ActorLoad a in rows)
        {
            string mark = ReferenceEquals(a, bottleneck) ? "  <- bottleneck" : string.Empty;
            output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{indent}{a.Actor,-16} {a.Messages,10:N0} {a.BusyNs / 1e6,10:F3} {a.Utilization,6:P0} {Ns(a.WaitP50),10} {Ns(a.WaitP99),10} {Ns(a.WaitMax),10} {a.MaxQueue,6}{mark}"));
        }

        int hidden = report.Actors.Count + report.Devices.Count - rows.Count;
        if (hidden > 0)
        {
            output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{indent}({hidden} less busy not shown; inspect --by actor on the log lists every actor)"));
        }
    }

    private static void WriteWait(Utf8JsonWriter json, ActorLoad load)
    {
        json.WriteStartObject("wait_ns");
        json.WriteNumber("p50", load.WaitP50);
        json.WriteNumber("p99", load.WaitP99);
        json.WriteNumber("max", load.WaitMax);
        json.WriteEndObject();
    }

    private static string Ns(long ns) => ns switch
    {
        < 10_000 => string.Create(CultureInfo.InvariantCulture, $"{ns} ns"),
        < 10_000_000 => string.Create(CultureInfo.InvariantCulture, $"{ns / 1e3:F1} us"),
        _ => string.Create(CultureInfo.InvariantCulture, $"{ns / 1e6:F1} ms"),
    };
}
