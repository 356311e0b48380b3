namespace TdxSim.Actors.Events;

/// <summary>
/// Base of every event about a message that reached no handler: <see cref="DeadLetter"/>,
/// <see cref="Dropped"/> and <see cref="UnhandledMessage"/>. Subscribe to this type to see all of them.
/// </summary>
/// <param name="Message">The undelivered or unhandled message.</param>
/// <param name="Sender">Its sender, if any.</param>
/// <param name="Recipient">The actor it was meant for.</param>
public abstract record AllDeadLetters(object Message, IActorRef? Sender, IActorRef Recipient);
