namespace TdxSim.Actors.Dispatch;

/// <summary>Charges the same virtual time for every message.</summary>
public sealed class ConstantMessageCost : IMessageCostModel
{
    /// <summary>Creates the model.</summary>
    /// <param name="costPerMessage">Virtual time per message, zero or positive.</param>
    public ConstantMessageCost(TimeSpan costPerMessage)
    {
        if (costPerMessage < TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(costPerMessage), costPerMessage, "A message cost must be zero or positive.");
        }

        Nanoseconds = Scheduling.TimeUnits.ToNanoseconds(costPerMessage);
    }

    /// <summary>The cost per message in nanoseconds.</summary>
    public long Nanoseconds { get; }

    /// <inheritdoc />
    public long CostNanoseconds(in Envelope envelope, IActorRef recipient) => Nanoseconds;
}
