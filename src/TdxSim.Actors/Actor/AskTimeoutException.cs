namespace TdxSim.Actors;

/// <summary>
/// Faults the task of an <c>Ask</c> that got no reply within its timeout, or whose question could not be
/// delivered because the recipient had already stopped (the question went to dead letters).
/// </summary>
public sealed class AskTimeoutException : TimeoutException
{
    /// <summary>Creates the exception with a message naming the recipient and the timeout.</summary>
    public AskTimeoutException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with an empty message.</summary>
    public AskTimeoutException()
    {
    }

    /// <summary>Creates the exception with a message and inner exception.</summary>
    public AskTimeoutException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
