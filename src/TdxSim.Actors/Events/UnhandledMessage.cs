namespace TdxSim.Actors.Events;

/// <summary>
/// A message the recipient's current behaviour did not match (it called <c>Unhandled</c>).
/// Counted in <see cref="ActorSystem.UnhandledCount"/>.
/// </summary>
/// <param name="Message">The message.</param>
/// <param name="Sender">Its sender, if any.</param>
/// <param name="Recipient">The actor that did not handle it.</param>
public sealed record UnhandledMessage(object Message, IActorRef? Sender, IActorRef Recipient)
    : AllDeadLetters(Message, Sender, Recipient);
