namespace TdxSim.Actors.Supervision;

/// <summary>What a supervisor does with a child whose handler threw.</summary>
public enum Directive
{
    /// <summary>Keep the child's instance and state; drop the failing message; continue with the next one.</summary>
    Resume,

    /// <summary>Replace the child's instance with a fresh one from its <see cref="Props"/>; the mailbox is kept.</summary>
    Restart,

    /// <summary>Stop the child: <c>PostStop</c>, its children stop, watchers get <see cref="Terminated"/>.</summary>
    Stop,

    /// <summary>Fail the supervisor itself with the same exception, so its own supervisor decides.</summary>
    Escalate,
}
