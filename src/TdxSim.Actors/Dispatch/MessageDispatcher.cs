using TdxSim.Actors.Mailboxes;

namespace TdxSim.Actors.Dispatch;

/// <summary>
/// Decides which thread runs a mailbox that has work. Two implementations exist: the concurrent
/// thread-pool dispatcher (<see cref="DispatcherMode.Concurrent"/>) and the
/// <see cref="DeterministicDispatcher"/> (<see cref="DispatcherMode.Deterministic"/>).
/// </summary>
public abstract class MessageDispatcher
{
    private protected MessageDispatcher()
    {
    }

    /// <summary>Called after a sender claimed an idle mailbox: run it soon.</summary>
    internal abstract void Dispatch(Mailbox mailbox);

    /// <summary>Called when a finished run found more work: run it again, fairly (behind other work).</summary>
    internal abstract void Reschedule(Mailbox mailbox);

    /// <summary>Called once the system has terminated.</summary>
    internal virtual void Shutdown()
    {
    }
}
