namespace TdxSim.Actors;

/// <summary>
/// Raised inside an actor that watched another actor and did not handle its <see cref="Terminated"/>
/// (Akka's death pact); the default decider stops the watcher.
/// </summary>
public sealed class DeathPactException : Exception
{
    /// <summary>Creates the exception for the dead <paramref name="deadActor"/>.</summary>
    public DeathPactException(IActorRef deadActor)
        : base($"Unhandled Terminated for watched actor {deadActor?.Path}: handle Terminated or Unwatch the actor.")
    {
        DeadActor = deadActor;
    }

    /// <summary>Creates the exception with an empty message.</summary>
    public DeathPactException()
    {
    }

    /// <summary>Creates the exception with a message.</summary>
    public DeathPactException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with a message and inner exception.</summary>
    public DeathPactException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    /// <summary>The watched actor that terminated.</summary>
    public IActorRef? DeadActor { get; }
}
