namespace TdxSim.Actors;

/// <summary>
/// An actor's constructor, <c>PreStart</c> or <c>PostRestart</c> threw. The default decider stops such an
/// actor (retrying a broken constructor rarely helps); the original exception is the inner exception.
/// </summary>
public sealed class ActorInitializationException : Exception
{
    /// <summary>Creates the exception for <paramref name="actor"/>.</summary>
    public ActorInitializationException(IActorRef? actor, string message, Exception? innerException)
        : base(message, innerException)
    {
        Actor = actor;
    }

    /// <summary>Creates the exception with an empty message.</summary>
    public ActorInitializationException()
    {
    }

    /// <summary>Creates the exception with a message.</summary>
    public ActorInitializationException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with a message and inner exception.</summary>
    public ActorInitializationException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    /// <summary>The actor that failed to start.</summary>
    public IActorRef? Actor { get; }
}
