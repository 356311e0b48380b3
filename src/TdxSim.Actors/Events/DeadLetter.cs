namespace TdxSim.Actors.Events;

/// <summary>
/// A message that could not be delivered: its recipient had stopped (or stopped with it still queued),
/// the system had terminated, or it was sent to <see cref="ActorSystem.DeadLetters"/> (e.g. a reply to
/// a message without sender). Counted in <see cref="ActorSystem.DeadLetterCount"/>.
/// </summary>
/// <param name="Message">The message.</param>
/// <param name="Sender">Its sender, if any.</param>
/// <param name="Recipient">The intended recipient.</param>
public sealed record DeadLetter(object Message, IActorRef? Sender, IActorRef Recipient)
    : AllDeadLetters(Message, Sender, Recipient);
