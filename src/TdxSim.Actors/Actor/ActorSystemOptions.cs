using TdxSim.Actors.Dispatch;
using TdxSim.Actors.Supervision;

namespace TdxSim.Actors;

/// <summary>Settings of an <see cref="ActorSystem"/>; every property has a sensible default.</summary>
public sealed record ActorSystemOptions
{
    /// <summary>Default <see cref="Throughput"/>: messages an actor handles per turn before yielding its thread.</summary>
    public const int DefaultThroughput = 100;

    /// <summary>Concurrent (default) or deterministic.</summary>
    public DispatcherMode Dispatcher { get; init; } = DispatcherMode.Concurrent;

    /// <summary>Seed of the deterministic dispatcher's actor choice (ignored by the concurrent dispatcher).</summary>
    public ulong Seed { get; init; }

    /// <summary>
    /// Use a <see cref="Scheduling.VirtualClock"/> and <see cref="Scheduling.VirtualTimeScheduler"/> under the
    /// concurrent dispatcher; the test then advances time. The deterministic dispatcher always uses virtual time.
    /// </summary>
    public bool VirtualTime { get; init; }

    /// <summary>Messages one actor handles per turn on the concurrent dispatcher (fairness); at least 1.</summary>
    public int Throughput { get; init; } = DefaultThroughput;

    /// <summary>
    /// How the user guardian supervises top-level actors; null = <see cref="SupervisorStrategy.DefaultStrategy"/>.
    /// Escalate at this level stops the failing top-level actor.
    /// </summary>
    public SupervisorStrategy? GuardianSupervisorStrategy { get; init; }

    /// <summary>Virtual time charged per message by the deterministic dispatcher; null = 0 (time moves only by timers).</summary>
    public IMessageCostModel? CostModel { get; init; }

    /// <summary>Keep every step of the deterministic schedule (<see cref="DeterministicDispatcher.RecordedSchedule"/>).</summary>
    public bool RecordSchedule { get; init; }

    /// <summary>
    /// Read the clock for <see cref="Envelope.SentAtNs"/> only while a delivery observer that wants send times
    /// (<see cref="Events.IDeliveryObserver.WantsSendTimes"/>) is attached; otherwise stamp
    /// <see cref="Envelope.NoSendTime"/>. A real clock read is the largest single cost of a Tell (about a fifth of a
    /// whole TD round trip), so a system whose only reader of send times is its message log sets this.
    /// Default false: every envelope carries its send time, as a test kit expects.
    /// </summary>
    public bool SendTimesOnlyWhenObserved { get; init; }

    /// <summary>Options for a deterministic system with <paramref name="seed"/>.</summary>
    public static ActorSystemOptions Deterministic(ulong seed) => new() { Dispatcher = DispatcherMode.Deterministic, Seed = seed };

    internal void Validate()
    {
        if (Throughput < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(Throughput), Throughput, "Throughput must be at least 1 message per turn.");
        }

        if (!Enum.IsDefined(Dispatcher))
        {
            throw new ArgumentOutOfRangeException(nameof(Dispatcher), Dispatcher, "Unknown dispatcher mode.");
        }

        if (Dispatcher != DispatcherMode.Deterministic && (CostModel is not null || RecordSchedule))
        {
            throw new ArgumentException("CostModel and RecordSchedule apply only to the deterministic dispatcher (Dispatcher = DispatcherMode.Deterministic).");
        }
    }
}
