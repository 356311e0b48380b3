using System.Globalization;
using TdxSim.Actors.Events;
using TdxSim.Actors.Scheduling;

namespace TdxSim.Actors.Internal;

/// <summary>Non-generic view of an Ask's reply ref, so dead-letter handling can fail it fast.</summary>
internal interface IPromiseActorRef
{
    /// <summary>Fails the Ask because its question went to dead letters.</summary>
    void FailUndeliverable(IActorRef recipient);
}

/// <summary>
/// The temporary reply-to ref of one <c>Ask</c>: the first reply completes the task (a
/// <see cref="Status.Failure"/> faults it), later replies are dead letters (<see cref="DeadLetterReason.LateReply"/>).
/// Continuations run asynchronously so awaiting code never runs inside the replying actor's turn.
/// </summary>
internal sealed class PromiseActorRef<T> : InternalActorRef, IPromiseActorRef
{
    private static long _nextId;
    private readonly TaskCompletionSource<T> _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly ActorSystem _system;
    private readonly IActorRef _target;
    private readonly Type _questionType;
    private readonly TimeSpan _timeout;
    private ActorPath? _path;
    private ICancelable? _timer;
    private int _completed;

    public PromiseActorRef(ActorSystem system, IActorRef target, Type questionType, TimeSpan timeout)
    {
        _system = system;
        _target = target;
        _questionType = questionType;
        _timeout = timeout;
    }

    public Task<T> Task => _completion.Task;

    // Built on first use only: most Asks never need their own path.
    public override ActorPath Path => _path ??= _system.TempPath.ChildUnchecked("$ask" + Interlocked.Increment(ref _nextId).ToString(CultureInfo.InvariantCulture));

    public override ActorSystem System => _system;

    public override bool IsTerminated => Volatile.Read(ref _completed) != 0;

    public override void Tell(object message, IActorRef? sender, long correlationId)
    {
        if (message is null)
        {
            ThrowNullMessage();
        }

        var envelope = new Envelope(message, sender, correlationId, _system.Clock.NowNanoseconds);
        if (Interlocked.Exchange(ref _completed, 1) != 0)
        {
            _system.DeadLetter(in envelope, this, DeadLetterReason.LateReply);
            return;
        }

        _timer?.Cancel();
        _system.Observers?.Delivered(in envelope, this);
        if (message is T typed)
        {
            _completion.TrySetResult(typed);
        }
        else if (message is Status.Failure failure)
        {
            _completion.TrySetException(failure.Cause);
        }
        else
        {
            _completion.TrySetException(new InvalidCastException(
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
        ICancelable timer = scheduler.ScheduleCallback(
            Scheduling.TimeUnits.ToNanoseconds(_timeout),
            static state => ((PromiseActorRef<T>)state!).OnTimeout(),
            this);
        _timer = timer;
        if (Volatile.Read(ref _completed) != 0)
        {
            timer.Cancel();
        }
    }

    public void FailUndeliverable(IActorRef recipient)
    {
        if (Interlocked.Exchange(ref _completed, 1) == 0)
        {
            _timer?.Cancel();
            _completion.TrySetException(new AskTimeoutException(
                $"Ask to {recipient.Path} cannot be answered: the recipient has stopped and the {_questionType.Name} went to dead letters."));
        }
    }

    private void OnTimeout()
    {
        if (Interlocked.Exchange(ref _completed, 1) == 0)
        {
            _completion.TrySetException(new AskTimeoutException(
                $"Ask to {_target.Path} timed out after {_timeout} waiting for a reply to {_questionType.Name}."));
        }
    }
}
