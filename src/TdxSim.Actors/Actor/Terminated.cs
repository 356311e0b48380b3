namespace TdxSim.Actors;

/// <summary>
/// Delivered to every watcher (<see cref="IActorContext.Watch"/>) after <see cref="ActorRef"/> stopped.
/// It arrives after every message the dead actor sent to the watcher, and never after an
/// <see cref="IActorContext.Unwatch"/>. A watcher that does not handle it fails with
/// <see cref="DeathPactException"/>. Equality compares <see cref="ActorRef"/>.
/// </summary>
public sealed class Terminated : IEquatable<Terminated>
{
    /// <summary>Creates the notification for <paramref name="actorRef"/>.</summary>
    public Terminated(IActorRef actorRef)
    {
        ArgumentNullException.ThrowIfNull(actorRef);
        ActorRef = actorRef;
    }

    /// <summary>The actor that stopped.</summary>
    public IActorRef ActorRef { get; }

    /// <summary>
    /// The watcher this notification was generated for (it is filtered by that watcher's watch state). Any
    /// other actor that receives the same instance, e.g. forwarded by user code, treats it as an ordinary message.
    /// </summary>
    internal Internal.ActorCell? Watcher { get; init; }

    /// <inheritdoc />
    public bool Equals(Terminated? other) => other is not null && Equals(ActorRef, other.ActorRef);

    /// <inheritdoc />
    public override bool Equals(object? obj) => Equals(obj as Terminated);

    /// <inheritdoc />
    public override int GetHashCode() => ActorRef.GetHashCode();

    /// <inheritdoc />
    public override string ToString() => $"Terminated {{ ActorRef = {ActorRef.Path} }}";
}
