namespace TdxSim.Actors.Scheduling;

/// <summary>The runtime's own use of a scheduler: run a callback later (Ask timeouts), without a message.</summary>
internal interface ICallbackScheduler
{
    ICancelable ScheduleCallback(long delayNanoseconds, Action<object?> callback, object? state);

    /// <summary>Forgets pending timers; later scheduling throws.</summary>
    void Shutdown();
}
