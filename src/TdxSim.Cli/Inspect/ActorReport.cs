using System.Globalization;
using System.Text;
using System.Text.Json;
using TdxSim.Machine.Logging.Reading;

namespace TdxSim.Cli.Inspect;

/// <summary>One receiving actor of <c>tdxsim inspect LOG --by actor</c>.</summary>
/// <param name="Actor">The log's <c>to</c> name: <c>vcpu/0</c>, <c>tdx-module</c>, <c>vmm/3</c>, <c>machine</c>, ...</param>
/// <param name="Messages">Messages it handled.</param>
/// <param name="BusyNs">Sum of their <c>service_ns</c>, or null when the log has none for this actor.</param>
/// <param name="WaitP50Ns">Median <c>wait_ns</c> (send to handling start), or null when the log has none.</param>
/// <param name="WaitP99Ns">99th percentile of <c>wait_ns</c>.</param>
/// <param name="WaitMaxNs">Largest <c>wait_ns</c>.</param>
/// <param name="MaxQueue">Most messages sent to it and not yet started at the start of one of its handlings (that one included), or null without <c>wait_ns</c>.</param>
/// <param name="Utilization">Busy time over the log's time span (first to last <c>t_ns</c>), or null.</param>
public sealed record ActorRow(string Actor, long Messages, long? BusyNs, long? WaitP50Ns, long? WaitP99Ns, long? WaitMaxNs, int? MaxQueue, double? Utilization);

/// <summary>The per-actor contention report of a message log, from its optional <c>wait_ns</c> and <c>service_ns</c> fields.</summary>
public sealed record ActorReport(string LogPath, int? Vcpu, IReadOnlyList<ActorRow> Rows, long Messages, long SpanNs)
{
    /// <summary>Reads the log: one row per receiving actor, in order of busy time (then name).</summary>
    public static ActorReport Analyze(IEnumerable<LogEntry> entries, string logPath, int? vcpu)
    {
        ArgumentNullException.ThrowIfNull(entries);
        var byActor = new Dictionary<string, Acc>(StringComparer.Ordinal);
        long messages = 0, first = -1, last = 0;
        foreach (LogEntry e in entries)
        {
            messages++;
            if (first < 0)
            {
                first = e.TimeNs;
            }

            last = Math.Max(last, e.TimeNs + (e.ServiceNs ?? 0));
            if (vcpu is int v && e.Vcpu != v)
            {
                continue;
            }

            if (!byActor.TryGetValue(e.To, out Acc? acc))
            {
                acc = new Acc();
                byActor.Add(e.To, acc);
            }

            acc.Messages++;
            if (e.ServiceNs is long service)
            {
                acc.Busy += service;
                acc.HasService = true;
            }

            if (e.WaitNs is long wait)
            {
                acc.Waits.Add(wait);
                acc.Starts.Add(e.TimeNs);
                acc.Arrivals.Add(e.TimeNs - wait);
            }
        }

        long span = first < 0 ? 0 : last - first;
        var rows = new List<ActorRow>(byActor.Count);
        foreach ((string actor, Acc acc) in byActor)
        {
            long? p50 = null, p99 = null, max = null;
            int? maxQueue = null;
            if (acc.Waits.Count > 0)
            {
                long[] waits = [.. acc.Waits];
                Array.Sort(waits);
                p50 = Percentile(waits, 0.50);
                p99 = Percentile(waits, 0.99);
                max = waits[^1];
                maxQueue = MaxQueue(acc.Starts, acc.Arrivals);
            }

            long? busy = acc.HasService ? acc.Busy : null;
            double? utilization = busy is long b && span > 0 ? Math.Min(1.0, (double)b / span) : null;
            rows.Add(new ActorRow(actor, acc.Messages, busy, p50, p99, max, maxQueue, utilization));
        }

        rows.Sort((a, b) =>
        {
            int byBusy = (b.BusyNs ?? -1).CompareTo(a.BusyNs ?? -1);
            return byBusy != 0 ? byBusy : string.CompareOrdinal(a.Actor, b.Actor);
        });
        return new ActorReport(logPath, vcpu, rows, messages, span);
    }

    /// <summary>Nearest-rank percentile of sorted values.</summary>
    internal static long Percentile(long[] sorted, double q)
    {
        int rank = (int)Math.Ceiling(q * sorted.Length);
        return sorted[Math.Clamp(rank - 1, 0, sorted.Length - 1)];
    }

    /// <summary>
    /// At the start of handling i (starts in log order), the messages already sent to the actor and not yet started:
    /// every message that arrived by then minus the i handled before it (each arrived before its own start).
    /// </summary>
    internal static int MaxQueue(List<long> starts, List<long> arrivals)
    {
        long[] sorted = [.. arrivals];
        Array.Sort(sorted);
        int best = 0;
        for (int i = 0; i < starts.Count; i++)
        {
            int arrived = UpperBound(sorted, starts[i]);
            best = Math.Max(best, arrived - i);
        }

        return best;
    }

    private static int UpperBound(long[] sorted, long value)
    {
        int lo = 0, hi = sorted.Length;
        while (lo < hi)
        {
            int mid = (lo + hi) >>> 1;
            if (sorted[mid] <= value)
            {
                lo = mid + 1;
            }
            else
            {
                hi = mid;
            }
        }

        return lo;
    }

    /// <summary>The table.</summary>
    public void WriteTable(TextWriter output)
    {
        CultureInfo c = CultureInfo.InvariantCulture;
        int width = Math.Max(12, Rows.Count == 0 ? 0 : Rows.Max(r => r.Actor.Length));
        string scope = Vcpu is int v ? string.Create(c, $"VCPU {v}") : "all VCPUs";
        output.WriteLine(string.Create(c, $"Analyze ACTOR contention for {scope}:"));
        output.WriteLine("(busy: sum of service_ns; wait: wait_ns, from the send to the handling's start; queue: messages sent and not yet started at a handling's start)");
        output.WriteLine();
        output.WriteLine(string.Create(c, $"{"ACTOR".PadLeft(width)} {"Messages",10} {"Busy",14} {"Util%",7} {"Wait p50",11} {"Wait p99",11} {"Wait max",11} {"MaxQueue",9}"));
        output.WriteLine();
        foreach (ActorRow r in Rows)
        {
            string util = r.Utilization is double u ? (u * 100).ToString("F2", c) : "-";
            output.WriteLine(string.Create(
                c,
                $"{r.Actor.PadLeft(width)} {r.Messages,10} {Us(r.BusyNs),14} {util,7} {Us(r.WaitP50Ns),11} {Us(r.WaitP99Ns),11} {Us(r.WaitMaxNs),11} {(r.MaxQueue is int q ? q.ToString(c) : "-"),9}"));
        }

        output.WriteLine();
        output.WriteLine(string.Create(c, $"Total Messages:{Messages}, Actors:{Rows.Count}, Span:{SpanNs / 1000.0:F2}us."));
    }

    /// <summary>
    /// <c>{"log", "by": "actor", "vcpu", "messages", "span_ns", "actors": [{"actor", "messages", "busy_ns", "utilization",
    /// "wait_ns": {"p50", "p99", "max"}, "max_queue"}]}</c>, the field names of <c>stress --json</c>'s contention report;
    /// null where the log lacks the field.
    /// </summary>
    public void WriteJson(TextWriter output)
    {
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true }))
        {
            w.WriteStartObject();
            w.WriteString("log", LogPath);
            w.WriteString("by", "actor");
            Nullable(w, "vcpu", Vcpu);
            w.WriteNumber("messages", Messages);
            w.WriteNumber("span_ns", SpanNs);
            w.WriteStartArray("actors");
            foreach (ActorRow r in Rows)
            {
                w.WriteStartObject();
                w.WriteString("actor", r.Actor);
                w.WriteNumber("messages", r.Messages);
                Nullable(w, "busy_ns", r.BusyNs);
                if (r.Utilization is double u)
                {
                    w.WriteNumber("utilization", Math.Round(u, 6));
                }
                else
                {
                    w.WriteNull("utilization");
                }

                if (r.WaitP50Ns is null)
                {
                    w.WriteNull("wait_ns");
                }
                else
                {
                    w.WriteStartObject("wait_ns");
                    Nullable(w, "p50", r.WaitP50Ns);
                    Nullable(w, "p99", r.WaitP99Ns);
                    Nullable(w, "max", r.WaitMaxNs);
                    w.WriteEndObject();
                }

                Nullable(w, "max_queue", r.MaxQueue);
                w.WriteEndObject();
            }

            w.WriteEndArray();
            w.WriteEndObject();
        }

        output.WriteLine(Encoding.UTF8.GetString(buffer.GetBuffer(), 0, (int)buffer.Length));
    }

    private static void Nullable(Utf8JsonWriter w, string name, long? value)
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

    private static string Us(long? ns) => ns is long n ? (n / 1000.0).ToString("F2", CultureInfo.InvariantCulture) + "us" : "-";

    private sealed class Acc
    {
        public long Messages;
        public long Busy;
        public bool HasService;
        public readonly List<long> Waits = [];
        public readonly List<long> Starts = [];
        public readonly List<long> Arrivals = [];
    }
}
