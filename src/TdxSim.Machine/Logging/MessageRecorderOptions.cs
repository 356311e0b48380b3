namespace TdxSim.Machine.Logging;

/// <summary>Tuning of a <see cref="MessageRecorder"/>.</summary>
public sealed record MessageRecorderOptions
{
    /// <summary>
    /// Records that may wait for the writer thread. When the queue is full a delivering thread waits
    /// (backpressure) rather than dropping a record.
    /// </summary>
    public int Capacity { get; init; } = 16384;

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
