namespace TdxSim.Actors.Dispatch;

/// <summary>Which dispatcher an <see cref="ActorSystem"/> runs its actors on.</summary>
public enum DispatcherMode
{
    /// <summary>Real parallelism on the .NET thread pool, real time (or virtual time if asked for).</summary>
    Concurrent,

    /// <summary>
    /// One thread, a seeded choice of the next actor, one message per step, virtual time: the same seed
    /// and the same inputs give the same delivery order every time. See <see cref="DeterministicDispatcher"/>.
    /// </summary>
    Deterministic,
}
