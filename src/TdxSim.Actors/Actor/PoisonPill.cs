namespace TdxSim.Actors;

/// <summary>
/// Stops the recipient when it is processed, in mailbox order: messages queued before it are handled,
/// messages behind it go to dead letters. (Contrast <see cref="IActorContext.Stop"/>, which overtakes the queue.)
/// </summary>
public sealed class PoisonPill
{
    private PoisonPill()
    {
    }

    /// <summary>The single instance.</summary>
    public static PoisonPill Instance { get; } = new();

    /// <inheritdoc />
    public override string ToString() => nameof(PoisonPill);
}
