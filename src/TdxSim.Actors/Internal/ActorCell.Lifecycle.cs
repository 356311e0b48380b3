namespace TdxSim.Actors.Internal;

/// <summary>System-message handling: creation, stopping, and the bookkeeping both need.</summary>
internal sealed partial class ActorCell
{
    private bool _terminating;

    /// <summary>Handles one system message on the actor's turn.</summary>
    public void SystemInvoke(SystemMessage message)
    {
        ActorCell? previous = _threadCurrent;
        _threadCurrent = this;
        try
        {
            switch (message)
            {
                case Create:
                    HandleCreate();
                    break;
                case Terminate:
                    HandleTerminate();
                    break;
                case Failed failed:
                    HandleChildFailed(failed);
                    break;
                case Resume:
                    HandleResume();
                    break;
                case Recreate recreate:
                    HandleRecreate(recreate.Cause);
                    break;
                case ChildTerminated childTerminated:
                    HandleChildTerminated(childTerminated.Child);
                    break;
                case Watch watch:
                    AddWatcher(watch.Watcher);
                    break;
                case Unwatch unwatch:
                    RemoveWatcher(unwatch.Watcher);
                    break;
                case DeathWatchNotification notification:
                    HandleDeathWatchNotification(notification.Actor);
                    break;
            }
        }
        finally
        {
            _threadCurrent = previous;
        }
    }

    /// <summary>A system message reached this actor after it stopped: answer watches, ignore the rest.</summary>
    public void SystemInvokeAfterDeath(SystemMessage message)
    {
        if (message is Watch watch)
        {
            watch.Watcher.SendSystemMessage(new DeathWatchNotification(_self));
        }
    }

    /// <summary>Creates the guardian synchronously, before the system is handed out.</summary>
    public void CreateGuardian() => HandleCreate();

    private void HandleCreate()
    {
        try
        {
            NewInstance();
            RunHook(static (actor, _) => actor.InvokePreStart(), _actor!, 0);
        }
        catch (Exception exception)
        {
            HandleInvokeFailure(
                new ActorInitializationException(_self, $"{_path} ({_props.ActorType.Name}) failed to start: {exception.Message}", exception),
                message: null,
                publish: true);
        }
    }

    /// <summary>Constructs a fresh instance from Props and installs its initial behaviour.</summary>
    private void NewInstance()
    {
        ActorBase actor;
        ActorCell? previous = _threadCurrent;
        _threadCurrent = this;
        _threadConstructing = this;
        try
        {
            actor = _props.NewActor();
        }
        finally
        {
            _threadConstructing = null;
            _threadCurrent = previous;
        }

        if (actor is null || actor.Cell != this)
        {
            throw new InvalidOperationException(
                $"The Props factory of {_path} must construct and return a new {_props.ActorType.Name} on every call (it returned {(actor is null ? "null" : "an existing instance")}).");
        }

        actor.CompleteConstruction();
        _actor = actor;
        Receive initial = actor.InitialBehavior();
        _behaviorStack = [initial];
        _behavior = initial;
    }

    private void ClearInstance()
    {
        _actor = null;
        _behavior = null;
        _behaviorStack = null;
    }

    private void HandleTerminate()
    {
        if (_terminating)
        {
            return;
        }

        _terminating = true;
        _mailbox.Suspend();
        List<LocalActorRef> children = StopAllChildrenAndRefuseNew();
        foreach (LocalActorRef child in children)
        {
            child.SendSystemMessage(Terminate.Instance);
        }

        if (children.Count == 0)
        {
            FinishTerminate();
        }
    }

    private void HandleChildTerminated(LocalActorRef child)
    {
        (int remaining, int stopping) = RemoveChild(child);
        if (_terminating)
        {
            if (remaining == 0)
            {
                FinishTerminate();
            }
        }
        else if (_pendingRecreateCause is not null && stopping == 0)
        {
            FinishRecreate(_pendingRecreateCause);
        }
    }

    /// <summary>Children are gone: run PostStop, close the mailbox, tell watchers and the parent.</summary>
    private void FinishTerminate()
    {
        if (_actor is not null)
        {
            try
            {
                RunHook(static (actor, _) => actor.InvokePostStop(), _actor, 0);
            }
            catch (Exception exception)
            {
                _system.PublishFailure(_self, exception, message: null);
            }
        }

        ClearInstance();
        _terminated = true;
        _mailbox.Close();
        NotifyWatchersAndUnwatchAll();
        _system.EventStream.UnsubscribeTerminated(_self);
        if (_parent is not null)
        {
            _parent.SelfRef.SendSystemMessage(new ChildTerminated(_self));
        }
        else
        {
            _system.OnGuardianTerminated();
        }
    }
}
