namespace TdxSim.Actors.Dispatch;

/// <summary>One step of a recorded deterministic schedule.</summary>
/// <param name="Step">Step number, from 1.</param>
/// <param name="Actor">Full path of the actor that ran.</param>
/// <param name="MessageType">Full name of the user message type, or the system message name (e.g. <c>Create</c>, <c>Terminate</c>).</param>
/// <param name="TimeNanoseconds">Virtual time when the step started.</param>
public readonly record struct ScheduleEntry(long Step, string Actor, string MessageType, long TimeNanoseconds)
{
    /// <inheritdoc />
    public override string ToString() => $"{Step} {TimeNanoseconds} {Actor} {MessageType}";
}
