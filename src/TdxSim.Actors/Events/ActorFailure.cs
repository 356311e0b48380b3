namespace TdxSim.Actors.Events;

/// <summary>
/// An actor threw: from a message handler (then <paramref name="Message"/> is the message being handled,
/// which is not retried whatever the supervisor decides), or from a lifecycle hook (then it is
/// <see langword="null"/>). Counted in <see cref="ActorSystem.FailureCount"/>; this is how a message lost
/// to a failure stays visible.
/// </summary>
/// <param name="Actor">The failing actor.</param>
/// <param name="Cause">The exception.</param>
/// <param name="Message">The message whose handler threw, if any.</param>
public sealed record ActorFailure(IActorRef Actor, Exception Cause, object? Message);
