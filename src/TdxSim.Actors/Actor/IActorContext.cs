namespace TdxSim.Actors;

/// <summary>A behaviour: returns true when it handled the message (Akka's <c>Receive</c> delegate).</summary>
public delegate bool Receive(object message);

/// <summary>
/// What an actor can do about itself and its surroundings (Akka's <c>IActorContext</c>). Use it only from the
/// actor's own handlers and lifecycle hooks; it is not thread-safe.
/// </summary>
public interface IActorContext
{
    /// <summary>This actor's ref.</summary>
    IActorRef Self { get; }

    /// <summary>Sender of the message being handled; the dead-letters ref when there is none.</summary>
    IActorRef Sender { get; }

    /// <summary>The supervising parent (the user guardian <c>/user</c> for top-level actors).</summary>
    IActorRef Parent { get; }

    /// <summary>The system this actor belongs to.</summary>
    ActorSystem System { get; }

    /// <summary>Correlation id of the message being handled (0 outside a handler). Messages sent now inherit it.</summary>
    long CorrelationId { get; }

    /// <summary>The envelope of the message being handled (default outside a handler).</summary>
    Envelope CurrentEnvelope { get; }

    /// <summary>A fresh correlation id, to start a new request chain explicitly (<c>Tell(msg, sender, id)</c>).</summary>
    long NewCorrelationId();

    /// <summary>Creates a child actor. Names must be unique among siblings (checked here, at the call site).</summary>
    /// <exception cref="InvalidActorNameException">Malformed or duplicate name.</exception>
    IActorRef ActorOf(Props props, string? name = null);

    /// <summary>The child called <paramref name="name"/>, or null.</summary>
    IActorRef? Child(string name);

    /// <summary>The current children (not those stopping), in an order that depends only on the sequence of creations and stops.</summary>
    IReadOnlyList<IActorRef> GetChildren();

    /// <summary>
    /// Stops <paramref name="actor"/> (a child, this actor itself, or any other actor) as soon as its current
    /// message is done; its queued messages go to dead letters.
    /// </summary>
    void Stop(IActorRef actor);

    /// <summary>Registers for a <see cref="Terminated"/> message when <paramref name="subject"/> stops (at once if already stopped).</summary>
    IActorRef Watch(IActorRef subject);

    /// <summary>Cancels <see cref="Watch"/>; no <see cref="Terminated"/> for the subject is handled afterwards.</summary>
    IActorRef Unwatch(IActorRef subject);

    /// <summary>Replaces the current behaviour.</summary>
    void Become(Receive receive);

    /// <summary>Pushes a behaviour; <see cref="UnbecomeStacked"/> returns to the previous one.</summary>
    void BecomeStacked(Receive receive);

    /// <summary>Pops the behaviour pushed last (the initial behaviour is never popped).</summary>
    void UnbecomeStacked();
}
