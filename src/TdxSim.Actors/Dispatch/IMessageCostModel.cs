namespace TdxSim.Actors.Dispatch;

/// <summary>
/// How much virtual time handling a message takes under the deterministic dispatcher. After each user
/// message the virtual clock advances by the returned cost, so a model charging per instruction, TD exit or
/// device access makes simulated time meaningful. Without a model the cost is 0: time then moves only when
/// the loop jumps to the next timer.
/// </summary>
public interface IMessageCostModel
{
    /// <summary>Virtual nanoseconds (zero or positive) spent handling <paramref name="envelope"/> in <paramref name="recipient"/>.</summary>
    long CostNanoseconds(in Envelope envelope, IActorRef recipient);
}
