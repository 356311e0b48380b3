namespace TdxSim.Actors;

/// <summary>Raised inside an actor that received <see cref="Kill"/>; the default decider stops the actor.</summary>
public sealed class ActorKilledException : Exception
{
    /// <summary>Creates the exception with a message.</summary>
    public ActorKilledException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with an empty message.</summary>
    public ActorKilledException()
    {
    }

    /// <summary>Creates the exception with a message and inner exception.</summary>
    public ActorKilledException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
