namespace TdxSim.Actors.Internal;

/// <summary>
/// Runtime-to-runtime messages. They travel in each mailbox's separate system queue, which is drained before
/// any user message and keeps being drained while the actor is suspended or stopping.
/// </summary>
internal abstract class SystemMessage
{
    /// <summary>Name used in recorded schedules.</summary>
    public abstract string Name { get; }
}

/// <summary>Construct the actor and run <c>PreStart</c>; always the first message of a mailbox.</summary>
internal sealed class Create : SystemMessage
{
    public static readonly Create Instance = new();

    public override string Name => "Create";
}

/// <summary>Stop: children first, then <c>PostStop</c>, dead-letter the queue, notify watchers and parent.</summary>
internal sealed class Terminate : SystemMessage
{
    public static readonly Terminate Instance = new();

    public override string Name => "Terminate";
}

/// <summary>Supervisor's Resume directive.</summary>
internal sealed class Resume : SystemMessage
{
    public static readonly Resume Instance = new();

    public override string Name => "Resume";
}

/// <summary>Supervisor's Restart directive.</summary>
internal sealed class Recreate(Exception cause) : SystemMessage
{
    public Exception Cause { get; } = cause;

    public override string Name => "Recreate";
}

/// <summary>A child reports that its handler threw and it is now suspended, awaiting a directive.</summary>
internal sealed class Failed(LocalActorRef child, Exception cause) : SystemMessage
{
    public LocalActorRef Child { get; } = child;

    public Exception Cause { get; } = cause;

    public override string Name => "Failed";
}

/// <summary>A child finished stopping; its name becomes free.</summary>
internal sealed class ChildTerminated(LocalActorRef child) : SystemMessage
{
    public LocalActorRef Child { get; } = child;

    public override string Name => "ChildTerminated";
}

/// <summary>Registers <see cref="Watcher"/> for a <see cref="Terminated"/> when the recipient stops.</summary>
internal sealed class Watch(InternalActorRef watcher) : SystemMessage
{
    public InternalActorRef Watcher { get; } = watcher;

    public override string Name => "Watch";
}

/// <summary>Removes a registration made by <see cref="Watch"/>.</summary>
internal sealed class Unwatch(InternalActorRef watcher) : SystemMessage
{
    public InternalActorRef Watcher { get; } = watcher;

    public override string Name => "Unwatch";
}

/// <summary>Tells a watcher that <see cref="Actor"/> stopped; becomes a <see cref="Terminated"/> user message.</summary>
internal sealed class DeathWatchNotification(IActorRef actor) : SystemMessage
{
    public IActorRef Actor { get; } = actor;

    public override string Name => "DeathWatchNotification";
}
