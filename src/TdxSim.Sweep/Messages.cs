namespace TdxSim.Sweep;

/// <summary>
/// The sweep protocol between a coordinator and its workers: immutable records, sent across the cluster with
/// <see cref="SweepSerializer"/> (bound to this interface in <see cref="SweepConfig"/>).
/// </summary>
public interface ISweepMessage;

/// <summary>Worker to coordinator: "I am here, running this build, with this many run slots".</summary>
/// <param name="Version">The worker's <see cref="BuildVersion"/>.</param>
/// <param name="Name">The worker's name in reports (its cluster address).</param>
/// <param name="Slots">Runs it takes at once.</param>
public sealed record WorkerHello(string Version, string Name, int Slots) : ISweepMessage;

/// <summary>Coordinator to worker: accepted; the sweep's scenario.</summary>
/// <param name="Scenario">The scenario every run loads.</param>
public sealed record WorkerWelcome(ScenarioSpec Scenario) : ISweepMessage;

/// <summary>Coordinator to worker: refused, and why (another TdxSim build).</summary>
/// <param name="Reason">One line for the worker's user.</param>
public sealed record WorkerRefused(string Reason) : ISweepMessage;

/// <summary>Worker to coordinator: one slot is free; send one run. Workers pull, so a slow one never holds a queue.</summary>
public sealed record WorkRequest : ISweepMessage
{
    /// <summary>The one instance (the record has no fields).</summary>
    public static WorkRequest Instance { get; } = new();
}

/// <summary>Coordinator to worker: run this.</summary>
/// <param name="Seed">The seed.</param>
/// <param name="Vcpus">The vCPU count.</param>
/// <param name="Attempt">1 for the first assignment, more when a lost worker's run is given again.</param>
public sealed record RunAssignment(ulong Seed, int Vcpus, int Attempt) : ISweepMessage
{
    /// <summary>The run's key.</summary>
    public RunKey Key => new(Seed, Vcpus);
}

/// <summary>Worker to coordinator: one run's result.</summary>
/// <param name="Result">What the run found.</param>
public sealed record RunCompleted(RunResult Result) : ISweepMessage;

/// <summary>Coordinator to worker: every run is reported; the worker may leave.</summary>
/// <param name="Runs">Runs in the sweep.</param>
public sealed record SweepFinished(long Runs) : ISweepMessage;
