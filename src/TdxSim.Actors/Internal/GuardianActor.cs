using TdxSim.Actors.Supervision;

namespace TdxSim.Actors.Internal;

/// <summary><c>/user</c>: the parent of every top-level actor. It handles no messages itself.</summary>
internal sealed class GuardianActor(SupervisorStrategy strategy) : ActorBase
{
    protected override bool Receive(object message) => false;

    protected override SupervisorStrategy SupervisorStrategy() => strategy;
}
