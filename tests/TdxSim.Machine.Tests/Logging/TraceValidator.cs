using System.Text.Json;

namespace TdxSim.Machine.Tests.Logging;

/// <summary>A slice or instant of a parsed trace, with times converted back to nanoseconds.</summary>
internal sealed record TraceEvent(int Index, string Ph, int Pid, int Tid, long TsNs, long DurNs, string Name, string Cat, long? BindId, bool FlowIn, bool FlowOut, JsonElement Args)
{
    public long EndNs => TsNs + DurNs;
}

/// <summary>
/// Checks a Chrome trace against the rules Perfetto's JSON importer applies (ecosystem.md 2.1), and returns its
/// events for further assertions:
/// an object with <c>displayTimeUnit</c> "ns" and a <c>traceEvents</c> array; every process and thread track
/// named by <c>M</c> events; every <c>X</c> with a non-negative <c>dur</c>; slices on one track nested or
/// disjoint (intervals closed on the left, open on the right, as Perfetto's slice tracker treats them);
/// v2 flows only (no <c>s</c>/<c>t</c>/<c>f</c> events, so nothing can be mixed), each <c>bind_id</c> with exactly
/// one source (<c>flow_out</c> only), one sink (<c>flow_in</c> only), steps in between, in non-decreasing time
/// order, because Perfetto links flow slices by start time.
/// </summary>
internal static class TraceValidator
{
    public static List<TraceEvent> Validate(string json)
    {
        using JsonDocument doc = JsonDocument.Parse(json);
        JsonElement root = doc.RootElement;
        Assert.Equal(JsonValueKind.Object, root.ValueKind);
        Assert.Equal("ns", root.GetProperty("displayTimeUnit").GetString());
        JsonElement array = root.GetProperty("traceEvents");

        var processNames = new Dictionary<int, string>();
        var threadNames = new Dictionary<(int, int), string>();
        var events = new List<TraceEvent>();
        int index = 0;
        foreach (JsonElement e in array.EnumerateArray())
        {
            string ph = e.GetProperty("ph").GetString()!;
            Assert.DoesNotContain(ph, new[] { "s", "t", "f" });
            int pid = e.GetProperty("pid").GetInt32();
            if (ph == "M")
            {
                string kind = e.GetProperty("name").GetString()!;
                JsonElement args = e.GetProperty("args");
                if (kind == "process_name")
                {
                    processNames[pid] = args.GetProperty("name").GetString()!;
                }
                else if (kind == "thread_name")
                {
                    threadNames[(pid, e.GetProperty("tid").GetInt32())] = args.GetProperty("name").GetString()!;
                }
                else
                {
                    Assert.Contains(kind, new[] { "process_sort_index", "thread_sort_index" });
                }

                index++;
                continue;
            }

            Assert.Contains(ph, new[] { "X", "i" });
            long ts = Nanoseconds(e.GetProperty("ts"));
            long dur = ph == "X" ? Nanoseconds(e.GetProperty("dur")) : 0;
            Assert.True(ts >= 0, $"event {index} has a negative ts");
            Assert.True(dur >= 0, $"event {index} has a negative dur");
            if (ph == "i")
            {
                Assert.Equal("t", e.GetProperty("s").GetString());
            }

            bool flowIn = e.TryGetProperty("flow_in", out JsonElement fi) && fi.GetBoolean();
            bool flowOut = e.TryGetProperty("flow_out", out JsonElement fo) && fo.GetBoolean();
            long? bind = e.TryGetProperty("bind_id", out JsonElement b) ? b.GetInt64() : null;
            Assert.True(bind is not null || (!flowIn && !flowOut), $"event {index} has flow flags without bind_id");
            string name = e.GetProperty("name").GetString()!;
            Assert.False(string.IsNullOrEmpty(name));
            events.Add(new TraceEvent(index, ph, pid, e.GetProperty("tid").GetInt32(), ts, dur, name, e.GetProperty("cat").GetString()!, bind, flowIn, flowOut, e.GetProperty("args").Clone()));
            index++;
        }

        foreach (TraceEvent e in events)
        {
            Assert.True(processNames.ContainsKey(e.Pid), $"pid {e.Pid} has no process_name");
            Assert.True(threadNames.ContainsKey((e.Pid, e.Tid)), $"track {e.Pid}/{e.Tid} has no thread_name");
        }

        CheckNesting(events);
        CheckFlows(events);
        return events;
    }

    private static long Nanoseconds(JsonElement microseconds) => (long)decimal.Round(microseconds.GetDecimal() * 1000m);

    private static void CheckNesting(List<TraceEvent> events)
    {
        foreach (IGrouping<(int, int), TraceEvent> track in events.Where(e => e.Ph == "X").GroupBy(e => (e.Pid, e.Tid)))
        {
            var stack = new Stack<TraceEvent>();
            foreach (TraceEvent s in track.OrderBy(e => e.TsNs).ThenByDescending(e => e.DurNs).ThenBy(e => e.Index))
            {
                while (stack.Count > 0)
                {
                    TraceEvent top = stack.Peek();
                    if (top.EndNs < s.TsNs || (top.EndNs == s.TsNs && !(top.DurNs == 0 && s.DurNs == 0)))
                    {
                        stack.Pop();
                    }
                    else
                    {
                        break;
                    }
                }

                if (stack.Count > 0)
                {
                    TraceEvent parent = stack.Peek();
                    Assert.True(
                        s.EndNs <= parent.EndNs,
                        $"slice '{s.Name}' [{s.TsNs}, {s.EndNs}] partially overlaps '{parent.Name}' [{parent.TsNs}, {parent.EndNs}] on track {s.Pid}/{s.Tid}");
                }

                stack.Push(s);
            }
        }
    }

    private static void CheckFlows(List<TraceEvent> events)
    {
        foreach (IGrouping<long, TraceEvent> flow in events.Where(e => e.BindId is not null).GroupBy(e => e.BindId!.Value))
        {
            List<TraceEvent> chain = [.. flow.OrderBy(e => e.Index)];
            Assert.True(chain.Count >= 2, $"flow {flow.Key} has a single slice");
            Assert.All(chain, e => Assert.Equal("X", e.Ph));
            Assert.True(chain[0].FlowOut && !chain[0].FlowIn, $"flow {flow.Key} does not start with a source");
            Assert.True(chain[^1].FlowIn && !chain[^1].FlowOut, $"flow {flow.Key} does not end with a sink");
            Assert.All(chain.Skip(1).SkipLast(1), e => Assert.True(e.FlowIn && e.FlowOut, $"flow {flow.Key}: '{e.Name}' is not a step"));
            for (int i = 1; i < chain.Count; i++)
            {
                Assert.True(chain[i].TsNs >= chain[i - 1].TsNs, $"flow {flow.Key}: '{chain[i].Name}' starts before '{chain[i - 1].Name}'");
            }
        }
    }
}
