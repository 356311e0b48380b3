namespace TdxSim.Runtime.Time;

/// <summary>
/// The only source of time in an actor system. Envelopes are stamped with it, timers fire by it and the
/// supervision retry window is measured with it, so swapping the virtual-time scheduler in (<see cref="Deterministic.VirtualTimeScheduler"/>) makes a whole
/// run independent of the wall clock.
/// </summary>
public interface IClock
{
    /// <summary>Monotonic nanoseconds since the clock's origin (the system start for the built-in clocks).</summary>
    long NowNanoseconds { get; }
}
