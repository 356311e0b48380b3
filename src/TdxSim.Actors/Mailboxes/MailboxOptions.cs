namespace TdxSim.Actors.Mailboxes;

/// <summary>
/// The kind of queue an actor's user messages wait in (<see cref="Props.WithMailbox"/>). System messages
/// (create, stop, watch, supervision) always use a separate unbounded queue that is drained first.
/// </summary>
public sealed record MailboxOptions
{
    private MailboxOptions(int? capacity, TimeSpan pushTimeout)
    {
        Capacity = capacity;
        PushTimeout = pushTimeout;
    }

    /// <summary>An unbounded mailbox (the default): Tell never fails for lack of space.</summary>
    public static MailboxOptions Unbounded { get; } = new(null, TimeSpan.Zero);

    /// <summary>Maximum number of queued user messages, or <see langword="null"/> for unbounded.</summary>
    public int? Capacity { get; }

    /// <summary>
    /// How long a sender outside any actor may block waiting for space (Akka's <c>mailbox-push-timeout-time</c>).
    /// Senders inside actors and every sender under the deterministic dispatcher never wait: blocking there could
    /// deadlock the very actor that would drain the queue.
    /// </summary>
    public TimeSpan PushTimeout { get; }

    /// <summary>
    /// A mailbox holding at most <paramref name="capacity"/> user messages. On overflow the message is refused,
    /// counted in <see cref="ActorSystem.DroppedCount"/> and published as <see cref="Events.Dropped"/>, after
    /// a sender outside any actor has waited up to <paramref name="pushTimeout"/> (default: no wait) for space.
    /// </summary>
    public static MailboxOptions Bounded(int capacity, TimeSpan pushTimeout = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(capacity);
        if (pushTimeout < TimeSpan.Zero || pushTimeout == Timeout.InfiniteTimeSpan)
        {
            throw new ArgumentOutOfRangeException(nameof(pushTimeout), pushTimeout, "pushTimeout must be zero (never wait) or a positive, finite duration.");
        }

        return new MailboxOptions(capacity, pushTimeout);
    }
}
