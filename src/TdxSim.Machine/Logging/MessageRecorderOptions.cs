namespace TdxSim.Machine.Logging;

/// <summary>Tuning of a <see cref="MessageRecorder"/>.</summary>
public sealed record MessageRecorderOptions
{
    /// <summary>
    /// Records that may wait for the writer thread. When the queue is full a delivering thread waits
    /// (backpressure) rather than dropping a record.
    /// </summary>
    /// <remarks>
    /// Two of the writer's batches. Every queued record keeps its message alive, and 16384 of them (the old default)
    /// were enough to turn every collection into a gen1 one over tens of megabytes of fresh memory: 42k page faults in
    /// a 500k-operation paravirt stress, a p99 of 22 µs. At 1024-4096 the runs measured alike (paravirt with a log
    /// 508-545k operations/s, p99 4 µs; 16384: 426-492k), and backpressure stays rare.
    /// </remarks>
    public int Capacity { get; init; } = 2048;

    /// <summary>The actor path prefix stripped from actor names (<see cref="ActorNamer"/>).</summary>
    public string RootPath { get; init; } = ActorNamer.DefaultRootPath;

    /// <summary>How long <see cref="MessageRecorder.Complete"/> waits for the writer to drain; infinite by default.</summary>
    public TimeSpan CompletionTimeout { get; init; } = Timeout.InfiniteTimeSpan;

    /// <summary>
    /// Record each handling's duration (<see cref="MessageRecord.ServiceNs"/>, the log's <c>service_ns</c>): the
    /// recorder then asks the runtime for <see cref="TdxSim.Runtime.Tracing.IDeliveryObserver.OnHandled"/> and writes a
    /// record only once its handler has returned. Off for recorders fed by hand (tests), which never call it.
    /// </summary>
    public bool ServiceTimes { get; init; }

    /// <summary>The defaults.</summary>
    public static MessageRecorderOptions Default { get; } = new();
}
