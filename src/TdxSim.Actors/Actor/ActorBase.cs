using TdxSim.Actors.Internal;
using TdxSim.Actors.Supervision;

namespace TdxSim.Actors;

/// <summary>
/// Base of every actor (Akka's <c>ActorBase</c>). Override <see cref="Receive(object)"/>, or derive from
/// <see cref="ReceiveActor"/> and register typed handlers. The runtime guarantees one message at a time per
/// actor, so an actor's fields need no locks.
/// </summary>
/// <remarks>
/// Actors are created only by the runtime, from <see cref="Props"/> (<c>ActorOf</c>); <c>new</c> outside
/// a Props factory throws. Lifecycle: constructor, <see cref="PreStart"/>, messages, <see cref="PostStop"/>;
/// on restart the old instance gets <see cref="PreRestart"/> and the new one <see cref="PostRestart"/>.
/// </remarks>
public abstract class ActorBase
{
    private readonly ActorCell _cell;

    /// <summary>Binds the new instance to the cell that is constructing it.</summary>
    /// <exception cref="InvalidOperationException">Constructed outside a Props factory run by the runtime.</exception>
    protected ActorBase()
    {
        _cell = ActorCell.Constructing ?? throw new InvalidOperationException(
            $"{GetType().Name} must be created by the runtime: pass Props.Create(...) to ActorSystem.ActorOf or Context.ActorOf instead of calling its constructor.");
        ActorCell.Constructing = null;
    }

    /// <summary>This actor's context.</summary>
    protected IActorContext Context => _cell;

    /// <summary>This actor's ref.</summary>
    protected IActorRef Self => _cell.Self;

    /// <summary>Sender of the message being handled; the dead-letters ref when there is none.</summary>
    protected IActorRef Sender => _cell.Sender;

    internal ActorCell Cell => _cell;

    /// <summary>Handles one message; returns false to report it unhandled.</summary>
    protected abstract bool Receive(object message);

    /// <summary>Runs after construction, before the first message. Default: nothing.</summary>
    protected virtual void PreStart()
    {
    }

    /// <summary>Runs after the last message, once the children have stopped. Default: nothing.</summary>
    protected virtual void PostStop()
    {
    }

    /// <summary>
    /// Runs on the failed instance before it is replaced. Default (as in Akka): unwatch and stop every child,
    /// then <see cref="PostStop"/>.
    /// </summary>
    /// <param name="reason">The exception that caused the restart.</param>
    /// <param name="message">The message whose handler threw, if any (it is not retried).</param>
    protected virtual void PreRestart(Exception reason, object? message)
    {
        foreach (IActorRef child in Context.GetChildren())
        {
            Context.Unwatch(child);
            Context.Stop(child);
        }

        PostStop();
    }

    /// <summary>Runs on the new instance after a restart. Default: <see cref="PreStart"/>.</summary>
    protected virtual void PostRestart(Exception reason) => PreStart();

    /// <summary>
    /// Called for a message no behaviour handled. Default: an unhandled <see cref="Terminated"/> throws
    /// <see cref="DeathPactException"/>; anything else is counted and published as
    /// <see cref="Events.UnhandledMessage"/>.
    /// </summary>
    protected virtual void Unhandled(object message)
    {
        if (message is Terminated terminated)
        {
            throw new DeathPactException(terminated.ActorRef);
        }

        _cell.PublishUnhandled(message);
    }

    /// <summary>The strategy for this actor's children; null falls back to Props, then the default.</summary>
    protected virtual SupervisorStrategy? SupervisorStrategy() => null;

    /// <summary>Hook for subclasses that must know construction is over (used by <see cref="ReceiveActor"/>).</summary>
    private protected virtual void OnConstructed()
    {
    }

    internal void CompleteConstruction() => OnConstructed();

    // Trampolines: the hooks are protected (so every assembly overrides them the same way); the runtime calls these.
    internal Receive InitialBehavior() => Receive;

    internal void InvokePreStart() => PreStart();

    internal void InvokePostStop() => PostStop();

    internal void InvokePreRestart(Exception reason, object? message) => PreRestart(reason, message);

    internal void InvokePostRestart(Exception reason) => PostRestart(reason);

    internal void InvokeUnhandled(object message) => Unhandled(message);

    internal SupervisorStrategy? InvokeSupervisorStrategy() => SupervisorStrategy();
}
