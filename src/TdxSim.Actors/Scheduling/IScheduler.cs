namespace TdxSim.Actors.Scheduling;

/// <summary>
/// Delivers messages later, in the time of <see cref="Clock"/>: real time for <see cref="RealTimeScheduler"/>,
/// simulated time for <see cref="VirtualTimeScheduler"/> (where nothing fires until the clock is advanced, by
/// the deterministic dispatcher or by the test). A scheduled message keeps the correlation id that was
/// current when it was scheduled, so a timeout stays tied to the request that armed it.
/// </summary>
public interface IScheduler
{
    /// <summary>The clock the scheduler's delays are measured with.</summary>
    IClock Clock { get; }

    /// <summary>Tells <paramref name="message"/> to <paramref name="receiver"/> once, after <paramref name="delay"/> (zero or positive).</summary>
    ICancelable ScheduleTellOnce(TimeSpan delay, IActorRef receiver, object message, IActorRef? sender);

    /// <summary>
    /// Tells <paramref name="message"/> after <paramref name="initialDelay"/> (zero or positive) and then every
    /// <paramref name="interval"/> (positive) until cancelled.
    /// </summary>
    ICancelable ScheduleTellRepeatedly(TimeSpan initialDelay, TimeSpan interval, IActorRef receiver, object message, IActorRef? sender);
}
