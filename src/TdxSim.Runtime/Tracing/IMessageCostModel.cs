using Akka.Actor;

namespace TdxSim.Runtime.Tracing;

/// <summary>
/// How much virtual time handling a message takes in deterministic mode: after each message a <see cref="TdxActor"/>
/// handles, the virtual clock advances by the returned cost. Without a model time moves only to the next timer.
/// </summary>
public interface IMessageCostModel
{
    /// <summary>Virtual nanoseconds (zero or positive) <paramref name="recipient"/> spent handling <paramref name="message"/>.</summary>
    long CostNanoseconds(object message, IActorRef recipient);
}
