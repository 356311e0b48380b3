namespace TdxSim.Actors;

/// <summary>Thrown at the <c>ActorOf</c> call site for a malformed name or one already used by a sibling.</summary>
public sealed class InvalidActorNameException : Exception
{
    /// <summary>Creates the exception with a message naming the rule that was broken.</summary>
    public InvalidActorNameException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with an empty message.</summary>
    public InvalidActorNameException()
    {
    }

    /// <summary>Creates the exception with a message and inner exception.</summary>
    public InvalidActorNameException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
