namespace TdxSim.Actors.Internal;

/// <summary>Base of every runtime ref: adds the system it belongs to and the system-message channel.</summary>
internal abstract class InternalActorRef : IActorRef
{
    /// <inheritdoc />
    public abstract ActorPath Path { get; }

    /// <inheritdoc />
    public string Name => Path.Name;

    /// <summary>The system that owns the ref.</summary>
    public abstract ActorSystem System { get; }

    /// <summary>True once the actor behind the ref has stopped for good.</summary>
    public abstract bool IsTerminated { get; }

    /// <inheritdoc />
    public virtual void Tell(object message, IActorRef? sender)
    {
        if (message is null)
        {
            ThrowNullMessage();
        }

        Tell(message, sender, ActorCell.CorrelationIdForSend(System));
    }

    /// <inheritdoc />
    public abstract void Tell(object message, IActorRef? sender, long correlationId);

    /// <summary>Delivers a system message (watch, stop, supervision).</summary>
    public abstract void SendSystemMessage(SystemMessage message);

    /// <inheritdoc />
    public override string ToString() => $"[{Path}]";

    [System.Diagnostics.CodeAnalysis.DoesNotReturn]
    private protected static void ThrowNullMessage() =>
        throw new ArgumentNullException("message", "Messages must not be null; send a message object (records are ideal).");
}
