namespace TdxSim.Actors.Events;

/// <summary>
/// A message refused by a full bounded mailbox (see <see cref="Mailboxes.MailboxOptions.Bounded"/>).
/// Counted in <see cref="ActorSystem.DroppedCount"/>.
/// </summary>
/// <param name="Message">The message.</param>
/// <param name="Sender">Its sender, if any.</param>
/// <param name="Recipient">The intended recipient.</param>
/// <param name="Reason">Why it was dropped, e.g. "mailbox full (capacity 64)".</param>
public sealed record Dropped(object Message, IActorRef? Sender, IActorRef Recipient, string Reason)
    : AllDeadLetters(Message, Sender, Recipient);
