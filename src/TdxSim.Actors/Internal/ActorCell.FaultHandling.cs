using TdxSim.Actors.Supervision;

namespace TdxSim.Actors.Internal;

/// <summary>
/// Supervision. A failing actor suspends itself (user messages wait; system messages still flow) and sends
/// <see cref="Failed"/> to its parent; the parent's strategy answers with Resume, Recreate (restart), Terminate
/// (stop) or fails the parent itself (escalate).
/// </summary>
internal sealed partial class ActorCell
{
    private Exception? _pendingRecreateCause;
    private object? _failedMessage;
    private List<LocalActorRef>? _escalatedChildren;

    /// <summary>The actor failed: publish, suspend, and ask the parent what to do.</summary>
    private void HandleInvokeFailure(Exception exception, object? message, bool publish)
    {
        if (publish)
        {
            _system.PublishFailure(_self, exception, message);
        }

        if (_terminating)
        {
            // Already stopping: nothing left to supervise.
            return;
        }

        _failedMessage = message;
        _mailbox.Suspend();
        if (_parent is null)
        {
            // The user guardian never fails on its own; if it ever does, the only safe outcome is to stop.
            HandleTerminate();
            return;
        }

        _parent.SelfRef.SendSystemMessage(new Failed(_self, exception));
    }

    private SupervisorStrategy EffectiveStrategy() =>
        _props.SupervisorStrategy ?? _actor?.InvokeSupervisorStrategy() ?? SupervisorStrategy.DefaultStrategy;

    /// <summary>Parent side: decide about a failed child.</summary>
    private void HandleChildFailed(Failed failed)
    {
        LocalActorRef child = failed.Child;
        if (!IsChild(child, out ChildRecord record) || record.Stopping)
        {
            // A stale report from a child that is already going away.
            return;
        }

        SupervisorStrategy strategy = EffectiveStrategy();
        Directive directive;
        try
        {
            directive = strategy.Decide(failed.Cause);
        }
        catch (Exception deciderFailure)
        {
            _system.PublishFailure(_self, deciderFailure, message: null);
            directive = Directive.Escalate;
        }

        switch (directive)
        {
            case Directive.Resume:
                child.SendSystemMessage(Resume.Instance);
                break;
            case Directive.Restart:
                if (strategy.RequestRestartPermission(child.Cell.RestartStatistics, _system.Clock.NowNanoseconds))
                {
                    child.SendSystemMessage(new Recreate(failed.Cause));
                }
                else
                {
                    Stop(child);
                }

                break;
            case Directive.Escalate when _parent is not null:
                (_escalatedChildren ??= []).Add(child);
                // The parent fails with the child's exception; it was published once already, by the child.
                HandleInvokeFailure(failed.Cause, message: null, publish: false);
                break;
            default:
                // Stop, or Escalate at the user guardian (there is nobody above to decide): stop the child.
                Stop(child);
                break;
        }
    }

    /// <summary>Child side of Resume: keep the instance and its state, continue with the next message.</summary>
    private void HandleResume()
    {
        if (_terminating)
        {
            return;
        }

        if (_actor is null)
        {
            // Resuming an actor that never started would leave it without an instance; restart it instead.
            HandleRecreate(new ActorInitializationException(_self, $"{_path} was resumed without an instance; restarting it.", null));
            return;
        }

        if (_escalatedChildren is not null)
        {
            foreach (LocalActorRef child in _escalatedChildren)
            {
                child.SendSystemMessage(Resume.Instance);
            }

            _escalatedChildren = null;
        }

        _failedMessage = null;
        _mailbox.Resume();
    }

    /// <summary>Child side of Restart: retire the old instance, then build a new one once stopping children are gone.</summary>
    private void HandleRecreate(Exception cause)
    {
        if (_terminating)
        {
            return;
        }

        // A restart requested while we were still waiting for the previous one to finish is the same restart.
        if (_pendingRecreateCause is not null)
        {
            return;
        }

        _mailbox.Suspend();
        if (_actor is not null)
        {
            try
            {
                RunHook(static (actor, state) => actor.InvokePreRestart(state.Cause, state.Message), _actor, (Cause: cause, Message: _failedMessage));
            }
            catch (Exception exception)
            {
                _system.PublishFailure(_self, exception, message: null);
            }

            ClearInstance();
        }

        _escalatedChildren = null;
        if (StoppingChildren() == 0)
        {
            FinishRecreate(cause);
        }
        else
        {
            _pendingRecreateCause = cause;
        }
    }

    private void FinishRecreate(Exception cause)
    {
        _pendingRecreateCause = null;
        // Children the old instance kept; taken before the new instance creates its own.
        List<LocalActorRef> survivors = LiveChildren();
        try
        {
            NewInstance();
            RunHook(static (actor, reason) => actor.InvokePostRestart(reason), _actor!, cause);
        }
        catch (Exception exception)
        {
            ClearInstance();
            HandleInvokeFailure(
                new ActorInitializationException(_self, $"{_path} ({_props.ActorType.Name}) failed to restart: {exception.Message}", exception),
                message: null,
                publish: true);
            return;
        }

        // Children the old instance kept are restarted too, as in Akka.
        foreach (LocalActorRef child in survivors)
        {
            child.SendSystemMessage(new Recreate(cause));
        }

        _failedMessage = null;
        _mailbox.Resume();
    }

    private int StoppingChildren()
    {
        lock (_childrenGate)
        {
            int stopping = 0;
            foreach (ChildRecord record in _children.Values)
            {
                if (record.Stopping)
                {
                    stopping++;
                }
            }

            return stopping;
        }
    }
}
