using Akka.Actor;

namespace TdxSim.Runtime.Tracing;

/// <summary>
/// The costs of deterministic mode's discrete-event simulation. Each actor is a server with its own timeline: a
/// message sent at virtual time t arrives at t + <see cref="TransitNanoseconds"/>, its handling starts at the later of
/// its arrival and the end of the receiver's previous handling, and occupies the receiver for the handler's cost.
/// The dispatcher runs handlers in order of their start, so actors run in parallel in virtual time and a shared one
/// queues work as its utilization nears 1. Called only on the deterministic dispatcher's thread.
/// </summary>
public interface IMessageCostModel
{
    /// <summary>Virtual nanoseconds from a send to the message's arrival in the receiver's mailbox.</summary>
    long TransitNanoseconds { get; }

    /// <summary>Called as <paramref name="recipient"/> starts handling <paramref name="message"/> (take a baseline).</summary>
    void Begin(object message, IActorRef recipient);

    /// <summary>
    /// Virtual nanoseconds (zero or more) <paramref name="recipient"/> has spent on <paramref name="message"/> so far:
    /// the local time of a send it makes now (or of a clock read) is the handling's start plus this; after the handler
    /// it is the handling's cost. Must not change state.
    /// </summary>
    long Elapsed(object message, IActorRef recipient);
}
