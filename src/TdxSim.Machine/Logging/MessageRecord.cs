namespace TdxSim.Machine.Logging;

/// <summary>
/// One delivered message as the sinks see it, in delivery order. It holds the message object itself
/// (messages are immutable records, so formatting it later on the writer thread is safe) and costs no
/// allocation to create.
/// </summary>
public readonly struct MessageRecord
{
    /// <summary>Creates a record.</summary>
    public MessageRecord(long seq, long timeNs, object message, ActorLabel? from, ActorLabel to, long correlationId, long sentAtNs, long serviceNs = -1)
    {
        ServiceNs = serviceNs;
        Seq = seq;
        TimeNs = timeNs;
        Message = message;
        From = from;
        To = to;
        CorrelationId = correlationId;
        SentAtNs = sentAtNs;
    }

    /// <summary>Global delivery order, from 1.</summary>
    public long Seq { get; }

    /// <summary>Clock reading at delivery, ns since the clock's origin (virtual time in deterministic mode).</summary>
    public long TimeNs { get; }

    /// <summary>The delivered message.</summary>
    public object Message { get; }

    /// <summary>The sender, or <see langword="null"/> for a message sent without one.</summary>
    public ActorLabel? From { get; }

    /// <summary>The recipient.</summary>
    public ActorLabel To { get; }

    /// <summary>The envelope's correlation id.</summary>
    public long CorrelationId { get; }

    /// <summary>
    /// The clock reading when the message was sent (<see cref="TdxSim.Runtime.Tracing.Delivery.SentAtNs"/>), or -1 when the
    /// recorder's clock is not known to be the one that stamped it (no clock was attached to the recorder).
    /// </summary>
    public long SentAtNs { get; }

    /// <summary>
    /// How long the recipient's handler ran on this message (virtual nanoseconds in deterministic mode), or -1 when not
    /// recorded (<see cref="MessageRecorderOptions.ServiceTimes"/> off, or the run ended mid-handling).
    /// </summary>
    public long ServiceNs { get; }
}
