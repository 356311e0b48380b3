namespace TdxSim.Actors.Scheduling;

/// <summary>One scheduled delivery: a Tell or (for the runtime's own Ask timeouts) a callback.</summary>
internal sealed class TimerEntry : ICancelable
{
    private readonly TimerQueue _owner;
    private int _cancelled;

    public TimerEntry(TimerQueue owner, long due, long interval, IActorRef receiver, object message, IActorRef? sender, long correlationId)
    {
        _owner = owner;
        Due = due;
        Interval = interval;
        Receiver = receiver;
        Message = message;
        Sender = sender;
        CorrelationId = correlationId;
    }

    public TimerEntry(TimerQueue owner, long due, Action<object?> callback, object? state)
    {
        _owner = owner;
        Due = due;
        Callback = callback;
        State = state;
    }

    public long Due { get; set; }

    public long Sequence { get; set; }

    /// <summary>Nanoseconds between repetitions; 0 for a one-shot entry.</summary>
    public long Interval { get; }

    public IActorRef? Receiver { get; }

    public object? Message { get; }

    public IActorRef? Sender { get; }

    public long CorrelationId { get; }

    public Action<object?>? Callback { get; }

    public object? State { get; }

    public bool IsCancellationRequested => Volatile.Read(ref _cancelled) != 0;

    public void Cancel()
    {
        if (Interlocked.Exchange(ref _cancelled, 1) == 0)
        {
            _owner.OnCancelled();
        }
    }

    /// <summary>The scheduler shut down before this callback entry fell due.</summary>
    public void Abandon()
    {
        if (State is Internal.IPromiseActorRef promise)
        {
            promise.FailSystemTerminated();
        }
    }

    public void Fire()
    {
        if (Callback is not null)
        {
            Callback(State);
        }
        else if (CorrelationId != 0)
        {
            // Scheduled while handling a message: the delivery stays part of that request.
            Receiver!.Tell(Message!, Sender, CorrelationId);
        }
        else
        {
            Receiver!.Tell(Message!, Sender);
        }
    }
}
