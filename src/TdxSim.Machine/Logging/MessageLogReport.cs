using System.Globalization;
using System.Text;

namespace TdxSim.Machine.Logging;

/// <summary>
/// What a <see cref="MessageRecorder"/> did, returned by <see cref="MessageRecorder.Complete"/>: every delivered
/// message got a sequence number (<see cref="Recorded"/>); each sink reports how many reached its destination.
/// </summary>
/// <param name="Recorded">Messages recorded (the last <c>seq</c>).</param>
/// <param name="Late">Deliveries after <see cref="MessageRecorder.Complete"/> began: not logged, counted as lost.</param>
/// <param name="Unwritten">Records still queued when the completion timeout expired: counted as lost.</param>
/// <param name="DeadLetters">Messages that reached no handler (not logged: the log holds delivered messages only).</param>
/// <param name="BackpressureWaits">Times a delivering thread waited because the queue was full.</param>
/// <param name="Sinks">Per-sink accounting.</param>
public sealed record MessageLogReport(
    long Recorded,
    long Late,
    long Unwritten,
    long DeadLetters,
    long BackpressureWaits,
    IReadOnlyList<SinkReport> Sinks)
{
    /// <summary>True when every recorded message reached every sink.</summary>
    public bool IsLossless => Late == 0 && Unwritten == 0 && Sinks.All(s => s.Lost == 0 && s.FirstError is null);

    /// <summary>The first error of any sink, or <see langword="null"/>.</summary>
    public Exception? FirstError => Sinks.Select(s => s.FirstError).FirstOrDefault(e => e is not null);

    /// <summary>One line per sink, e.g. <c>run.jsonl: 1200 records written</c>, plus any loss.</summary>
    public override string ToString()
    {
        var text = new StringBuilder();
        text.Append(CultureInfo.InvariantCulture, $"message log: {Recorded} messages recorded");
        if (Late > 0)
        {
            text.Append(CultureInfo.InvariantCulture, $", {Late} delivered after completion (lost)");
        }

        if (Unwritten > 0)
        {
            text.Append(CultureInfo.InvariantCulture, $", {Unwritten} still queued at the completion timeout (lost)");
        }

        foreach (SinkReport sink in Sinks)
        {
            text.Append("; ").Append(sink);
        }

        return text.ToString();
    }
}
