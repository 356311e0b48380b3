using System.Text;
using System.Text.Json;
using TdxSim.Abi;
using TdxSim.Machine.Logging;
using TdxSim.Machine.Logging.Reading;

namespace TdxSim.Cli.Inspect;

/// <summary>
/// The <c>--json</c> form of the inspect outputs: one indented JSON object on stdout. Times are integers in
/// nanoseconds (averages as numbers with a fraction); percentages are numbers, not strings.
/// </summary>
public static class InspectJsonRenderer
{
    private static readonly JsonWriterOptions Options = new() { Indented = true };

    /// <summary>
    /// Writes a table report: <c>{"log", "by", "vcpu", "event", "measures", "rows": [{"key", "samples",
    /// "samples_pct", "time_pct", "min_ns", "max_ns", "avg_ns", "stddev_pct", "total_ns"}], "total": {"samples",
    /// "time_ns"}, "incomplete", "unmatched", "messages"}</c>.
    /// </summary>
    public static void Write(InspectReport report, TextWriter output)
    {
        ArgumentNullException.ThrowIfNull(report);
        ArgumentNullException.ThrowIfNull(output);
        (string title, string measures) = InspectReport.Describe(report.Key);
        WriteDocument(output, w =>
        {
            w.WriteStartObject();
            w.WriteString("log", report.LogPath);
            w.WriteString("by", InspectKeys.NameOf(report.Key));
            WriteNullable(w, "vcpu", report.Vcpu);
            w.WriteString("event", title);
            w.WriteString("measures", measures);
            w.WriteStartArray("rows");
            foreach (InspectRow row in report.Rows)
            {
                EventStatistics s = row.Statistics;
                w.WriteStartObject();
                w.WriteString("key", row.Key);
                w.WriteNumber("samples", s.Count);
                w.WriteNumber("samples_pct", Math.Round(row.SamplesPercent, 4));
                w.WriteNumber("time_pct", Math.Round(row.TimePercent, 4));
                w.WriteNumber("min_ns", s.MinNs);
                w.WriteNumber("max_ns", s.MaxNs);
                w.WriteNumber("avg_ns", Math.Round(s.AverageNs, 3));
                w.WriteNumber("stddev_pct", Math.Round(s.RelativeStddevPercent, 4));
                w.WriteNumber("total_ns", s.TotalNs);
                w.WriteEndObject();
            }

            w.WriteEndArray();
            w.WriteStartObject("total");
            w.WriteNumber("samples", report.TotalSamples);
            w.WriteNumber("time_ns", report.TotalNs);
            w.WriteEndObject();
            w.WriteNumber("incomplete", report.Incomplete);
            w.WriteNumber("unmatched", report.Unmatched);
            w.WriteNumber("messages", report.Messages);
            w.WriteEndObject();
        });
    }

    /// <summary>
    /// Writes a followed request: <c>{"log", "corr", "vcpu", "messages": [ … ]}</c> where each message has the
    /// log's fields (contract section 6) plus <c>dt_ns</c>, the time since the request's first message.
    /// </summary>
    public static void WriteFollow(FollowResult result, TextWriter output)
    {
        ArgumentNullException.ThrowIfNull(result);
        ArgumentNullException.ThrowIfNull(output);
        WriteDocument(output, w =>
        {
            w.WriteStartObject();
            w.WriteString("log", result.LogPath);
            w.WriteNumber("corr", result.Corr);
            WriteNullable(w, "vcpu", result.Vcpu);
            w.WriteStartArray("messages");
            long start = result.Messages.Count > 0 ? result.Messages[0].TimeNs : 0;
            foreach (LogEntry e in result.Messages)
            {
                WriteEntry(w, e, e.TimeNs - start);
            }

            w.WriteEndArray();
            w.WriteEndObject();
        });
    }

    private static void WriteEntry(Utf8JsonWriter w, LogEntry e, long sinceStartNs)
    {
        w.WriteStartObject();
        w.WriteNumber(LogFormat.SeqField, e.Seq);
        w.WriteNumber(LogFormat.TimeField, e.TimeNs);
        w.WriteNumber("dt_ns", sinceStartNs);
        WriteNullable(w, LogFormat.VcpuField, e.Vcpu);
        if (e.From is null)
        {
            w.WriteNull(LogFormat.FromField);
        }
        else
        {
            w.WriteString(LogFormat.FromField, e.From);
        }

        w.WriteString(LogFormat.ToField, e.To);
        w.WriteString(LogFormat.TypeField, e.Type);
        WriteOptional(w, LogFormat.LeafField, e.Leaf);
        WriteOptional(w, LogFormat.SubfnField, e.Subfn);
        WriteOptional(w, LogFormat.ReasonField, e.Reason);
        w.WriteNumber(LogFormat.CorrField, e.Corr);
        if (e.Status is ulong status)
        {
            w.WriteString(LogFormat.StatusField, LogFormat.Hex(status));
        }

        if (e.RegisterMask != 0)
        {
            w.WriteStartObject(LogFormat.RegsField);
            for (int i = 0; i < Gprs.Count; i++)
            {
                if (e.Register((Gpr)i) is ulong value)
                {
                    w.WriteString(Gprs.Names[i], LogFormat.Hex(value));
                }
            }

            w.WriteEndObject();
        }

        w.WriteEndObject();
    }

    private static void WriteNullable(Utf8JsonWriter w, string name, long? value)
    {
        if (value is long v)
        {
            w.WriteNumber(name, v);
        }
        else
        {
            w.WriteNull(name);
        }
    }

    private static void WriteOptional(Utf8JsonWriter w, string name, string? value)
    {
        if (value is not null)
        {
            w.WriteString(name, value);
        }
    }

    private static void WriteDocument(TextWriter output, Action<Utf8JsonWriter> write)
    {
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer, Options))
        {
            write(w);
        }

        output.WriteLine(Encoding.UTF8.GetString(buffer.GetBuffer(), 0, (int)buffer.Length));
    }
}
