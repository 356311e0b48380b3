namespace TdxSim.Actors;

/// <summary>
/// One message in flight: the payload plus what the runtime knows about its sending.
/// </summary>
/// <param name="Message">The immutable message object.</param>
/// <param name="Sender">The actor to reply to, or <see langword="null"/> (<see cref="ActorRefs.NoSender"/>).</param>
/// <param name="CorrelationId">
/// Ties a request to everything it causes, like a trace context: a message sent while an actor handles a
/// message inherits that message's id; a message sent from outside any actor gets a fresh id.
/// </param>
/// <param name="SentAtNs">
/// The sender-side <see cref="Scheduling.IClock"/> reading when the message was sent, or <see cref="NoSendTime"/>
/// when the system takes send times only for observers that want them
/// (<see cref="ActorSystemOptions.SendTimesOnlyWhenObserved"/>) and none was attached.
/// </param>
public readonly record struct Envelope(object Message, IActorRef? Sender, long CorrelationId, long SentAtNs)
{
    /// <summary>The <see cref="SentAtNs"/> of a message whose send time was not taken.</summary>
    public const long NoSendTime = -1;
}
