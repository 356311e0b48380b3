namespace TdxSim.Actors;

/// <summary>Well-known sender values, as in Akka.NET.</summary>
public static class ActorRefs
{
    /// <summary>
    /// "No sender": a reply to such a message (to <c>Sender</c>) goes to the system's dead letters, where it
    /// is counted, rather than vanishing.
    /// </summary>
    public static readonly IActorRef? NoSender;
}
