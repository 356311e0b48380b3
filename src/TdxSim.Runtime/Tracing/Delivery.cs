using Akka.Actor;

namespace TdxSim.Runtime.Tracing;

/// <summary>
/// One delivered message as the message log sees it: the payload and what the mailbox learned when it was sent.
/// </summary>
/// <param name="Message">The immutable message object.</param>
/// <param name="Sender">The actor to reply to, or null (<see cref="ActorRefs.NoSender"/>).</param>
/// <param name="CorrelationId">
/// Ties a request to everything it causes, like a trace context: a message sent while a <see cref="TdxActor"/> handles
/// a message inherits that message's id; a message sent from outside any such actor gets a fresh id.
/// </param>
/// <param name="SentAtNs">The <see cref="TdxRuntime.Clock"/> reading at the send, or <see cref="NoSendTime"/>.</param>
/// <param name="StartNs">
/// The <see cref="TdxRuntime.Clock"/> reading at the handling's start when the runtime took one anyway (a real-time
/// run measuring contention or service times), or <see cref="NoSendTime"/>: an observer on the same clock can use it
/// instead of reading the clock again.
/// </param>
public readonly record struct Delivery(object Message, IActorRef? Sender, long CorrelationId, long SentAtNs, long StartNs = Delivery.NoSendTime)
{
    /// <summary>The <see cref="SentAtNs"/> of a message whose send time was not taken (no observer wanted it).</summary>
    public const long NoSendTime = -1;
}

/// <summary>Why a message never reached a handler.</summary>
public enum UndeliveredReason
{
    /// <summary>The recipient had stopped, or never existed (Akka's <see cref="Akka.Event.DeadLetter"/>).</summary>
    DeadLetter,

    /// <summary>The message was dropped (Akka's <see cref="Akka.Event.Dropped"/>, e.g. a full bounded mailbox).</summary>
    Dropped,

    /// <summary>The recipient had no handler for it (Akka's <see cref="Akka.Event.UnhandledMessage"/>).</summary>
    Unhandled,
}

/// <summary>
/// Sees every message delivered to a <see cref="TdxActor"/>, exactly once, on the thread about to run the handler
/// (register with <see cref="TdxRuntime.AddDeliveryObserver"/>). Implementations must be thread-safe and fast: they run
/// on the hot path of every hop, and must not throw.
/// </summary>
public interface IDeliveryObserver
{
    /// <summary>Called just before <paramref name="recipient"/>'s handler runs with <paramref name="delivery"/>.</summary>
    void OnDelivered(in Delivery delivery, IActorRef recipient);

    /// <summary>Called once for a message that will never reach a handler (from Akka's EventStream).</summary>
    void OnUndelivered(in Delivery delivery, IActorRef recipient, UndeliveredReason reason);

    /// <summary>Whether this observer reads <see cref="Delivery.SentAtNs"/>: only then does each send read the clock.</summary>
    bool WantsSendTimes => true;

    /// <summary>
    /// Whether this observer wants <see cref="OnHandled"/>: only then does each handling (outside deterministic mode)
    /// read the clock at its end.
    /// </summary>
    bool WantsHandled => false;

    /// <summary>
    /// Called right after <paramref name="recipient"/>'s handler for the message last passed to <see cref="OnDelivered"/>
    /// on this thread returned (or threw): <paramref name="serviceNs"/> is how long it ran (the cost model's virtual
    /// nanoseconds in deterministic mode). Only called when <see cref="WantsHandled"/> is true.
    /// </summary>
    void OnHandled(IActorRef recipient, long serviceNs)
    {
    }
}
