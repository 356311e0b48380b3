using System.Globalization;
using TdxSim.Actors.Events;
using TdxSim.Actors.Scheduling;

namespace TdxSim.Actors.Internal;

/// <summary>Non-generic view of an Ask's reply ref, for dead-letter handling and shutdown.</summary>
internal interface IPromiseActorRef
{
    /// <summary>Fails the Ask because its question could not be delivered.</summary>
    void FailUndeliverable(IActorRef recipient, DeadLetterReason reason);

    /// <summary>Fails the Ask because the system terminated before a reply or the timeout.</summary>
    void FailSystemTerminated();

    /// <summary>Tells the outcome to <paramref name="recipient"/> when it is known (now, if it already is).</summary>
    void PipeTo(IActorRef recipient, IActorRef? sender);
}

/// <summary>
/// The temporary reply-to ref of one <c>Ask</c>: the first reply completes the task (a
/// <see cref="Status.Failure"/> faults it), later replies are dead letters (<see cref="DeadLetterReason.LateReply"/>).
/// Continuations run asynchronously so awaiting code never runs inside the replying actor's turn.
/// </summary>
/// <remarks>
/// Under the deterministic dispatcher a <c>PipeTo</c> of the task is attached here instead of to the task:
/// the outcome is told to the pipe's recipient synchronously, on the loop thread, at the step that decided it,
/// so the run stays reproducible (a task continuation would run on the thread pool at a random moment).
/// </remarks>
internal sealed class PromiseActorRef<T> : InternalActorRef, IPromiseActorRef
{
    private readonly TaskCompletionSource<T> _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly ActorSystem _system;
    private readonly IActorRef _target;
    private readonly Type _questionType;
    private readonly TimeSpan _timeout;
    private ActorPath? _path;
    private ICancelable? _timer;
    private int _completed;
    private (IActorRef Recipient, IActorRef? Sender)? _pipe;
    private object? _outcome;

    public PromiseActorRef(ActorSystem system, IActorRef target, Type questionType, TimeSpan timeout)
    {
        _system = system;
        _target = target;
        _questionType = questionType;
        _timeout = timeout;
    }

    public Task<T> Task => _completion.Task;

    // Built on first use only: most Asks never need their own path. Numbered per system, so a deterministic
    // run names its temporary refs identically every time.
    public override ActorPath Path => _path ??= _system.TempPath.ChildUnchecked("$ask" + _system.NextTempId().ToString(CultureInfo.InvariantCulture));

    public override ActorSystem System => _system;

    public override bool IsTerminated => Volatile.Read(ref _completed) != 0;

    public override void Tell(object message, IActorRef? sender, long correlationId)
    {
        if (message is null)
        {
            ThrowNullMessage();
        }

        var envelope = new Envelope(message, sender, correlationId, _system.SendTime());
        if (Interlocked.Exchange(ref _completed, 1) != 0)
        {
            _system.DeadLetter(in envelope, this, DeadLetterReason.LateReply);
            return;
        }

        _timer?.Cancel();
        _system.Observers?.Delivered(in envelope, this);
        if (message is T typed && message is not Status.Failure)
        {
            Complete(typed, null);
        }
        else if (message is Status.Failure failure)
        {
            Complete(default, failure.Cause);
        }
        else
        {
            Complete(default, new InvalidCastException(
                $"Ask<{typeof(T).Name}> to {_target.Path} got a reply of type {message.GetType().FullName}, which is not a {typeof(T).FullName}."));
        }
    }

    public override void SendSystemMessage(SystemMessage message)
    {
        // An Ask's reply ref cannot be watched meaningfully; report it gone, like any short-lived ref.
        if (message is Watch watch)
        {
            watch.Watcher.SendSystemMessage(new DeathWatchNotification(this));
        }
    }

    public void ArmTimeout(ICallbackScheduler scheduler)
    {
        ICancelable timer;
        try
        {
            timer = scheduler.ScheduleCallback(
                TimeUnits.ToNanoseconds(_timeout),
                static state => ((PromiseActorRef<T>)state!).OnTimeout(),
                this);
        }
        catch (InvalidOperationException)
        {
            // The scheduler has shut down with its system: no reply can come any more.
            FailSystemTerminated();
            return;
        }

        _timer = timer;
        if (Volatile.Read(ref _completed) != 0)
        {
            timer.Cancel();
        }
    }

    public void FailUndeliverable(IActorRef recipient, DeadLetterReason reason)
    {
        string why = reason switch
        {
            DeadLetterReason.MailboxFull => "the recipient's mailbox was full and the question was dropped",
            DeadLetterReason.SentToDeadLetters => "it was sent to dead letters",
            _ => $"the recipient has stopped and the {_questionType.Name} went to dead letters",
        };
        Fail($"Ask to {recipient.Path} cannot be answered: {why}.");
    }

    public void FailSystemTerminated() =>
        Fail($"Ask to {_target.Path} cannot be answered: actor system '{_system.Name}' terminated while waiting for a reply to {_questionType.Name}.");

    public void PipeTo(IActorRef recipient, IActorRef? sender)
    {
        object? outcome;
        lock (_completion)
        {
            outcome = _outcome;
            if (outcome is null)
            {
                _pipe = (recipient, sender);
                return;
            }
        }

        recipient.Tell(outcome, sender);
    }

    private void OnTimeout() =>
        Fail($"Ask to {_target.Path} timed out after {_timeout} waiting for a reply to {_questionType.Name}.");

    private void Fail(string message)
    {
        if (Interlocked.Exchange(ref _completed, 1) == 0)
        {
            _timer?.Cancel();
            Complete(default, new AskTimeoutException(message));
        }
    }

    private void Complete(T? value, Exception? error)
    {
        object outcome = error is null ? value! : new Status.Failure(error);
        (IActorRef Recipient, IActorRef? Sender)? pipe;
        lock (_completion)
        {
            _outcome = outcome;
            pipe = _pipe;
        }

        if (error is null)
        {
            _completion.TrySetResult(value!);
        }
        else
        {
            _completion.TrySetException(error);
        }

        pipe?.Recipient.Tell(outcome, pipe.Value.Sender);
    }
}
