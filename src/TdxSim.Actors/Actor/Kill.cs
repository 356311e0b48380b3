namespace TdxSim.Actors;

/// <summary>
/// Makes the recipient fail with <see cref="ActorKilledException"/> when processed, so its supervisor
/// decides (the default decider stops it).
/// </summary>
public sealed class Kill
{
    private Kill()
    {
    }

    /// <summary>The single instance.</summary>
    public static Kill Instance { get; } = new();

    /// <inheritdoc />
    public override string ToString() => nameof(Kill);
}
