using TdxSim.Actors.Mailboxes;

namespace TdxSim.Actors.Internal;

/// <summary>The ref of an actor created with <c>ActorOf</c>: a thin handle to its cell and mailbox.</summary>
internal sealed class LocalActorRef : InternalActorRef
{
    private readonly ActorCell _cell;
    private readonly Mailbox _mailbox;
    private readonly ActorSystem _system;

    public LocalActorRef(ActorCell cell, Mailbox mailbox)
    {
        _cell = cell;
        _mailbox = mailbox;
        _system = cell.System;
    }

    public ActorCell Cell => _cell;

    public Mailbox Mailbox => _mailbox;

    public override ActorPath Path => _cell.Path;

    public override ActorSystem System => _system;

    public override bool IsTerminated => _cell.IsTerminated;

    public override void Tell(object message, IActorRef? sender)
    {
        if (message is null)
        {
            ThrowNullMessage();
        }

        // The hot path: one clock read (or none: SendTime), one channel write, at most one CAS on the mailbox status.
        _mailbox.Post(new Envelope(message, sender, ActorCell.CorrelationIdForSend(_system), _system.SendTime()));
    }

    public override void Tell(object message, IActorRef? sender, long correlationId)
    {
        if (message is null)
        {
            ThrowNullMessage();
        }

        _mailbox.Post(new Envelope(message, sender, correlationId, _system.SendTime()));
    }

    public override void SendSystemMessage(SystemMessage message) => _mailbox.PostSystem(message);
}
