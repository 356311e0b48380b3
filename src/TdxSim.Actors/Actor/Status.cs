namespace TdxSim.Actors;

/// <summary>Replies that carry an outcome rather than a value (Akka's <c>Status</c>).</summary>
public static class Status
{
    /// <summary>A failed outcome; as the reply to an <c>Ask</c> it faults the task with <paramref name="Cause"/>.</summary>
    /// <param name="Cause">The exception to report.</param>
    public sealed record Failure(Exception Cause);

    /// <summary>A successful outcome with an optional value.</summary>
    /// <param name="Value">The result, if any.</param>
    public sealed record Success(object? Value);
}
