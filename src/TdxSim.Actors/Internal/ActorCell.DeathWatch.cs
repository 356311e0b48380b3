namespace TdxSim.Actors.Internal;

/// <summary>
/// Death watch. Lists rather than hash sets: iteration order must depend only on the order of events, so
/// the deterministic dispatcher sends notifications in the same order on every run.
/// </summary>
internal sealed partial class ActorCell
{
    private List<InternalActorRef>? _watching;
    private List<InternalActorRef>? _watchedBy;

    public IActorRef Watch(IActorRef subject)
    {
        InternalActorRef target = AsInternal(subject, nameof(subject));
        if (target == _self)
        {
            return subject;
        }

        _watching ??= [];
        if (!_watching.Contains(target))
        {
            _watching.Add(target);
            target.SendSystemMessage(new Watch(_self));
        }

        return subject;
    }

    public IActorRef Unwatch(IActorRef subject)
    {
        InternalActorRef target = AsInternal(subject, nameof(subject));
        if (_watching is not null && _watching.Remove(target))
        {
            target.SendSystemMessage(new Unwatch(_self));
        }

        return subject;
    }

    private static InternalActorRef AsInternal(IActorRef subject, string parameterName)
    {
        ArgumentNullException.ThrowIfNull(subject, parameterName);
        return subject as InternalActorRef
            ?? throw new ArgumentException($"{subject.GetType().Name} is not an actor ref created by this runtime.", parameterName);
    }

    private void AddWatcher(InternalActorRef watcher)
    {
        _watchedBy ??= [];
        if (!_watchedBy.Contains(watcher))
        {
            _watchedBy.Add(watcher);
        }
    }

    private void RemoveWatcher(InternalActorRef watcher) => _watchedBy?.Remove(watcher);

    /// <summary>
    /// A watched actor stopped. The <see cref="Terminated"/> goes through the user queue, behind every message
    /// the dead actor sent us, and is handled only if we still watch it then.
    /// </summary>
    private void HandleDeathWatchNotification(IActorRef actor)
    {
        if (_terminated || _watching is null || !_watching.Contains((InternalActorRef)actor))
        {
            return;
        }

        _mailbox.Post(new Envelope(new Terminated(actor) { Watcher = this }, actor, _system.NewCorrelationId(), _system.SendTime()));
    }

    private void NotifyWatchersAndUnwatchAll()
    {
        if (_watchedBy is not null)
        {
            foreach (InternalActorRef watcher in _watchedBy)
            {
                watcher.SendSystemMessage(new DeathWatchNotification(_self));
            }

            _watchedBy = null;
        }

        if (_watching is not null)
        {
            foreach (InternalActorRef subject in _watching)
            {
                subject.SendSystemMessage(new Unwatch(_self));
            }

            _watching = null;
        }
    }
}
