namespace TdxSim.Actors.Events;

/// <summary>Why a message reached <see cref="IDeliveryObserver.OnDeadLetter"/> instead of a handler.</summary>
public enum DeadLetterReason
{
    /// <summary>The recipient had stopped, or stopped while the message was still queued.</summary>
    RecipientTerminated,

    /// <summary>The message was sent to the dead-letters ref itself, e.g. a reply to a message without sender.</summary>
    SentToDeadLetters,

    /// <summary>A bounded mailbox was full (a <see cref="Dropped"/> event).</summary>
    MailboxFull,

    /// <summary>A reply reached an <c>Ask</c> that had already completed or timed out.</summary>
    LateReply,
}
