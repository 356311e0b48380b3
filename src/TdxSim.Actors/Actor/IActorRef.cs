namespace TdxSim.Actors;

/// <summary>
/// An immutable, thread-safe handle to an actor. Sending through it never blocks and never throws for a
/// stopped recipient: such messages go to dead letters and are counted (<see cref="ActorSystem.DeadLetterCount"/>).
/// </summary>
/// <remarks>
/// Implemented by the runtime only. Equality is reference equality: a restarted actor keeps its ref, a new
/// actor created under a reused name gets a new one. The one-argument <c>Tell(message)</c>, <c>Forward</c>
/// and <c>Ask</c> are extension methods in <see cref="ActorRefExtensions"/>.
/// </remarks>
public interface IActorRef
{
    /// <summary>Where the actor lives in the hierarchy, e.g. <c>/user/vcpu/0</c>.</summary>
    ActorPath Path { get; }

    /// <summary>The actor's own name, the last element of <see cref="Path"/>.</summary>
    string Name { get; }

    /// <summary>
    /// Sends <paramref name="message"/> with an explicit <paramref name="sender"/> (or none). The correlation
    /// id is inherited from the message the calling actor is handling, or fresh when called from outside.
    /// </summary>
    void Tell(object message, IActorRef? sender);

    /// <summary>Sends <paramref name="message"/> under an explicit <paramref name="correlationId"/>.</summary>
    void Tell(object message, IActorRef? sender, long correlationId);
}
