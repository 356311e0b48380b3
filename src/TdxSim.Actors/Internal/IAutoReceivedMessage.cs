namespace TdxSim.Actors.Internal;

/// <summary>Marks user messages the runtime handles itself (<see cref="PoisonPill"/>, <see cref="Kill"/>, <see cref="Terminated"/>) with a single type check.</summary>
internal interface IAutoReceivedMessage
{
}
