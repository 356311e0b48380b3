using TdxSim.Machine.Logging;
using TdxSim.Runtime.Counters;
using TdxSim.Runtime.Tracing;

namespace TdxSim.Machine;

/// <summary>One actor's (or device's) load over a run (contract section 4, <c>actors</c>).</summary>
/// <param name="Actor">Its name as the message log writes it (<c>vmm</c>, <c>vcpu/0</c>) or <c>device/NAME</c>.</param>
/// <param name="Messages">Messages handled (accesses, for a device).</param>
/// <param name="BusyNs">Time spent handling them (holding the device).</param>
/// <param name="Utilization">Busy time over the run's time, 0 to 1.</param>
/// <param name="WaitP50">Median wait from arrival to the start of handling (for the device's lock), ns.</param>
/// <param name="WaitP99">99th percentile of the wait, ns.</param>
/// <param name="WaitMax">Longest wait, ns.</param>
/// <param name="MaxQueue">Most messages in the mailbox when one was taken (accesses that found the device held, for a device).</param>
public sealed record ActorLoad(string Actor, long Messages, long BusyNs, double Utilization, long WaitP50, long WaitP99, long WaitMax, long MaxQueue);

/// <summary>
/// Where a run's time went: per actor, messages, busy time, utilization, waits and queue length; per device, its
/// lock's. Modelled (virtual time, the cost model's service times) in deterministic mode, measured otherwise
/// (mailbox residence from the enqueue timestamp, handler time on the monotonic clock).
/// </summary>
/// <param name="Actors">The TD's actors, busiest first by name order within the same kind.</param>
/// <param name="Devices">Devices that VMMs reached.</param>
/// <param name="DurationNs">The run's time the utilizations are relative to.</param>
/// <param name="Modelled">True in virtual time.</param>
public sealed record ContentionReport(IReadOnlyList<ActorLoad> Actors, IReadOnlyList<ActorLoad> Devices, long DurationNs, bool Modelled)
{
    /// <summary>Builds the report from the runtime's records (only TdxSim's actors under the machine).</summary>
    internal static ContentionReport Build(
        IReadOnlyList<ActorContention> records, IReadOnlyList<ResourceContention> devices, long durationNs, bool modelled)
    {
        var namer = new ActorNamer();
        long duration = Math.Max(1, durationNs);
        var actors = new List<ActorLoad>();
        foreach (ActorContention record in records)
        {
            string path = record.Actor.Path.ToStringWithoutAddress();
            if (!path.StartsWith(ActorNamer.DefaultRootPath, StringComparison.Ordinal) || record.Messages == 0)
            {
                continue;
            }

            LatencyHistogram wait = record.Wait;
            actors.Add(new ActorLoad(
                namer.NameOf(path), record.Messages, record.BusyNanoseconds, Math.Min(1.0, (double)record.BusyNanoseconds / duration),
                wait.Percentile(50), wait.Percentile(99), wait.Max, record.MaxQueue));
        }

        actors.Sort((a, b) => CompareNames(a.Actor, b.Actor));
        var loads = devices
            .Select(d => new ActorLoad(d.Name, d.Accesses, d.BusyNs, Math.Min(1.0, (double)d.BusyNs / duration),
                d.WaitP50, d.WaitP99, d.WaitMax, d.Contended))
            .ToList();
        return new ContentionReport(actors, loads, durationNs, modelled);
    }

    /// <summary>The busiest actor (the bottleneck), or null when none handled anything.</summary>
    public ActorLoad? Bottleneck => Actors.Concat(Devices).MaxBy(a => a.Utilization);

    /// <summary>Jain's fairness index over <paramref name="values"/>: 1 when all are equal, 1/n when one has everything.</summary>
    public static double JainIndex(IReadOnlyList<long> values)
    {
        ArgumentNullException.ThrowIfNull(values);
        if (values.Count == 0)
        {
            return 1;
        }

        double sum = 0, squares = 0;
        foreach (long v in values)
        {
            sum += v;
            squares += (double)v * v;
        }

        return squares == 0 ? 1 : sum * sum / (values.Count * squares);
    }

    // vcpu/2 before vcpu/10; kinds in name order.
    private static int CompareNames(string a, string b)
    {
        int slashA = a.LastIndexOf('/'), slashB = b.LastIndexOf('/');
        if (slashA > 0 && slashB > 0 && a.AsSpan(0, slashA).SequenceEqual(b.AsSpan(0, slashB))
            && int.TryParse(a.AsSpan(slashA + 1), out int x) && int.TryParse(b.AsSpan(slashB + 1), out int y))
        {
            return x.CompareTo(y);
        }

        return string.CompareOrdinal(a, b);
    }
}
