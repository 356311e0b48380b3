namespace TdxSim.Actors;

/// <summary>
/// Delivered to every watcher (<see cref="IActorContext.Watch"/>) after <paramref name="ActorRef"/> stopped.
/// It arrives after every message the dead actor sent to the watcher. A watcher that does not handle it
/// fails with <see cref="DeathPactException"/>.
/// </summary>
/// <param name="ActorRef">The actor that stopped.</param>
public sealed record Terminated(IActorRef ActorRef) : Internal.IAutoReceivedMessage;
