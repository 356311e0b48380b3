namespace TdxSim.Actors.Events;

/// <summary>
/// Sees every message the runtime delivers, exactly once, on the thread that is about to run the handler
/// (register with <see cref="ActorSystem.AddDeliveryObserver"/>). The message log assigns its global
/// sequence number here. Implementations must be thread-safe under the concurrent dispatcher and fast:
/// they run on the hot path of every hop. They must not throw: an exception from <see cref="OnDelivered"/>
/// counts as a failure of the recipient's handler, one from <see cref="OnDeadLetter"/> surfaces in the sender.
/// </summary>
public interface IDeliveryObserver
{
    /// <summary>
    /// Called just before the recipient's handler runs with <paramref name="envelope"/> (for an <c>Ask</c>
    /// reply: just before the waiting task completes). System messages (create, stop, watch) are not reported;
    /// <see cref="Terminated"/> is, because a handler sees it.
    /// </summary>
    void OnDelivered(in Envelope envelope, IActorRef recipient);

    /// <summary>Called once for a message that will never reach a handler.</summary>
    void OnDeadLetter(in Envelope envelope, IActorRef recipient, DeadLetterReason reason);

    /// <summary>
    /// Whether this observer reads <see cref="Envelope.SentAtNs"/>. A system created with
    /// <see cref="ActorSystemOptions.SendTimesOnlyWhenObserved"/> reads its clock on each send only while an observer
    /// that wants send times is attached. Default true.
    /// </summary>
    bool WantsSendTimes => true;
}
