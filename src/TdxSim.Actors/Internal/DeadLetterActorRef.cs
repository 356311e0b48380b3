using TdxSim.Actors.Events;

namespace TdxSim.Actors.Internal;

/// <summary>
/// <c>/deadLetters</c>: everything sent here is counted and published as <see cref="DeadLetter"/>.
/// It is what <c>Sender</c> returns for a message sent without sender, so replies to nobody stay visible.
/// </summary>
internal sealed class DeadLetterActorRef(ActorSystem system, ActorPath path) : InternalActorRef
{
    public override ActorPath Path { get; } = path;

    public override ActorSystem System { get; } = system;

    public override bool IsTerminated => false;

    public override void Tell(object message, IActorRef? sender, long correlationId)
    {
        if (message is null)
        {
            ThrowNullMessage();
        }

        var envelope = new Envelope(message, sender, correlationId, System.Clock.NowNanoseconds);
        System.DeadLetter(in envelope, this, DeadLetterReason.SentToDeadLetters);
    }

    public override void SendSystemMessage(SystemMessage message)
    {
        // Watching dead letters yields Terminated at once, as for any actor that is already gone.
        if (message is Watch watch)
        {
            watch.Watcher.SendSystemMessage(new DeathWatchNotification(this));
        }
    }
}
