using TdxSim.Actors.Dispatch;
using TdxSim.Actors.Events;
using TdxSim.Actors.Internal;
using TdxSim.Actors.Scheduling;

namespace TdxSim.Actors;

/// <summary>
/// A hierarchy of actors with one dispatcher, one clock, one scheduler and one event stream
/// (Akka's <c>ActorSystem</c>). Create with <see cref="Create"/>, build top-level actors with
/// <see cref="ActorOf"/>, shut down with <see cref="Terminate"/>.
/// </summary>
public sealed class ActorSystem : IDisposable
{
    private readonly ActorCell _guardian;
    private readonly ICallbackScheduler _callbackScheduler;
    private readonly MessageDispatcher _dispatcher;
    private readonly TaskCompletionSource _terminated = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly object _observerGate = new();
    private readonly MonotonicClock? _monotonicClock;
    private readonly VirtualClock? _virtualClock;
    private DeliveryObserverList? _observers;
    private readonly bool _sendTimesOnlyWhenObserved;
    private long _lastCorrelationId;
    private long _lastTempId;
    private long _deadLetterCount;
    private long _droppedCount;
    private long _unhandledCount;
    private long _failureCount;
    private int _terminateRequested;

    private ActorSystem(string name, ActorSystemOptions options)
    {
        Name = name;
        Options = options;
        _sendTimesOnlyWhenObserved = options.SendTimesOnlyWhenObserved;
        EventStream = new EventStream();
        TempPath = ActorPath.Root.ChildUnchecked("temp");
        DeadLetters = new DeadLetterActorRef(this, ActorPath.Root.ChildUnchecked("deadLetters"));

        if (options.Dispatcher == DispatcherMode.Deterministic || options.VirtualTime)
        {
            var virtualScheduler = new VirtualTimeScheduler(new VirtualClock());
            Scheduler = virtualScheduler;
            _callbackScheduler = virtualScheduler;
            VirtualTime = virtualScheduler;
        }
        else
        {
            var realScheduler = new RealTimeScheduler(new MonotonicClock());
            Scheduler = realScheduler;
            _callbackScheduler = realScheduler;
        }

        Clock = Scheduler.Clock;
        _monotonicClock = Clock as MonotonicClock;
        _virtualClock = Clock as VirtualClock;
        if (options.Dispatcher == DispatcherMode.Deterministic)
        {
            DeterministicPromises = [];
            Deterministic = new DeterministicDispatcher(options.Seed, VirtualTime!, options.CostModel, options.RecordSchedule);
            _dispatcher = Deterministic;
        }
        else
        {
            _dispatcher = new ThreadPoolDispatcher();
        }

        Supervision.SupervisorStrategy guardianStrategy = options.GuardianSupervisorStrategy ?? Supervision.SupervisorStrategy.DefaultStrategy;
        _guardian = new ActorCell(
            this,
            Props.Create(() => new GuardianActor(guardianStrategy)),
            parent: null,
            ActorPath.Root.ChildUnchecked("user"),
            _dispatcher);
        _guardian.CreateGuardian();
    }

    /// <summary>The system's name.</summary>
    public string Name { get; }

    /// <summary>The options it was created with.</summary>
    public ActorSystemOptions Options { get; }

    /// <summary>Runtime events: dead letters, dropped and unhandled messages, actor failures.</summary>
    public EventStream EventStream { get; }

    /// <summary>Delivers messages later, in <see cref="Clock"/> time.</summary>
    public IScheduler Scheduler { get; }

    /// <summary>The system's only time source: real monotonic time, or virtual time.</summary>
    public IClock Clock { get; }

    /// <summary>The virtual-time scheduler when the system runs in virtual time (deterministic, or <see cref="ActorSystemOptions.VirtualTime"/>); else null.</summary>
    public VirtualTimeScheduler? VirtualTime { get; }

    /// <summary>The deterministic dispatcher when <see cref="ActorSystemOptions.Dispatcher"/> is deterministic; else null.</summary>
    public DeterministicDispatcher? Deterministic { get; }

    /// <summary><c>/deadLetters</c>: sink for undeliverable messages and replies to messages without sender.</summary>
    public IActorRef DeadLetters { get; }

    /// <summary>The user guardian <c>/user</c>, parent of top-level actors.</summary>
    public IActorRef Guardian => _guardian.Self;

    /// <summary>Messages that reached no mailbox or were left in one when its actor stopped (<see cref="DeadLetter"/> events).</summary>
    public long DeadLetterCount => Interlocked.Read(ref _deadLetterCount);

    /// <summary>Messages refused by full bounded mailboxes (<see cref="Dropped"/> events).</summary>
    public long DroppedCount => Interlocked.Read(ref _droppedCount);

    /// <summary>Messages no behaviour handled (<see cref="UnhandledMessage"/> events).</summary>
    public long UnhandledCount => Interlocked.Read(ref _unhandledCount);

    /// <summary>Exceptions thrown by actors (<see cref="ActorFailure"/> events).</summary>
    public long FailureCount => Interlocked.Read(ref _failureCount);

    /// <summary>Completes when <see cref="Terminate"/> has stopped every actor.</summary>
    public Task WhenTerminated => _terminated.Task;

    /// <summary>True once every actor has stopped.</summary>
    public bool IsTerminated => _terminated.Task.IsCompleted;

    internal ActorPath TempPath { get; }

    /// <summary>Ask tasks of this (deterministic) system, so PipeTo can attach to the promise itself.</summary>
    internal System.Runtime.CompilerServices.ConditionalWeakTable<Task, IPromiseActorRef>? DeterministicPromises { get; }

    internal DeliveryObserverList? Observers => Volatile.Read(ref _observers);

    /// <summary><see cref="Clock"/> read without interface dispatch: the built-in clocks are sealed.</summary>
    internal long Now() => _monotonicClock is not null
        ? _monotonicClock.NowNanoseconds
        : _virtualClock is not null ? _virtualClock.NowNanoseconds : Clock.NowNanoseconds;

    /// <summary>
    /// The send time of a new envelope: the clock, or <see cref="Envelope.NoSendTime"/> when the system takes send
    /// times only for observers that want them and none is attached (one volatile read instead of a clock read).
    /// </summary>
    internal long SendTime()
    {
        if (_sendTimesOnlyWhenObserved && Volatile.Read(ref _observers) is not { WantsSendTimes: true })
        {
            return Envelope.NoSendTime;
        }

        return Now();
    }

    internal ICallbackScheduler CallbackScheduler => _callbackScheduler;


    /// <summary>Creates a system.</summary>
    /// <param name="name">ASCII letters, digits, '-' and '_', starting with a letter or digit.</param>
    /// <param name="options">Settings; null for the defaults (concurrent, real time).</param>
    public static ActorSystem Create(string name, ActorSystemOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(name);
        if (name.Length == 0 || !char.IsAsciiLetterOrDigit(name[0]) || !name.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_'))
        {
            throw new ArgumentException($"Actor system name '{name}' is invalid: use ASCII letters, digits, '-' and '_', starting with a letter or digit.", nameof(name));
        }

        options ??= new ActorSystemOptions();
        options.Validate();
        return new ActorSystem(name, options);
    }

    /// <summary>Creates a top-level actor under <c>/user</c>.</summary>
    /// <exception cref="InvalidActorNameException">Malformed name, or a sibling already has it.</exception>
    /// <exception cref="InvalidOperationException">The system is terminating.</exception>
    public IActorRef ActorOf(Props props, string? name = null) => _guardian.ActorOf(props, name);

    /// <summary>Stops <paramref name="actor"/> asynchronously (ahead of its queued messages, which go to dead letters).</summary>
    public void Stop(IActorRef actor) => _guardian.Stop(actor);

    /// <summary>A fresh correlation id (ids start at 1 and increase by one per request chain).</summary>
    public long NewCorrelationId() => Interlocked.Increment(ref _lastCorrelationId);

    /// <summary>
    /// Registers an observer of every delivery and dead letter. With none registered the hot path pays a
    /// single null check.
    /// </summary>
    public void AddDeliveryObserver(IDeliveryObserver observer)
    {
        ArgumentNullException.ThrowIfNull(observer);
        lock (_observerGate)
        {
            IDeliveryObserver[] current = _observers?.Observers ?? [];
            Volatile.Write(ref _observers, new DeliveryObserverList([.. current, observer]));
        }
    }

    /// <summary>Unregisters an observer; returns false if it was not registered.</summary>
    public bool RemoveDeliveryObserver(IDeliveryObserver observer)
    {
        ArgumentNullException.ThrowIfNull(observer);
        lock (_observerGate)
        {
            IDeliveryObserver[] current = _observers?.Observers ?? [];
            int index = Array.IndexOf(current, observer);
            if (index < 0)
            {
                return false;
            }

            IDeliveryObserver[] next = [.. current[..index], .. current[(index + 1)..]];
            Volatile.Write(ref _observers, next.Length == 0 ? null : new DeliveryObserverList(next));
            return true;
        }
    }

    /// <summary>
    /// Stops every actor (children before parents), then the scheduler; returns <see cref="WhenTerminated"/>.
    /// Later messages to any of the system's actors go to dead letters. Under an owner-driven deterministic
    /// dispatcher, calling this from outside the loop runs the loop until termination completes.
    /// </summary>
    public Task Terminate()
    {
        if (Interlocked.Exchange(ref _terminateRequested, 1) == 0)
        {
            _guardian.SelfRef.SendSystemMessage(Internal.Terminate.Instance);
        }

        if (Deterministic is { } deterministic && !deterministic.IsRunningOnDedicatedThread && !deterministic.IsLoopThread && !IsTerminated)
        {
            deterministic.RunUntil(() => IsTerminated);
        }

        return _terminated.Task;
    }

    /// <summary>Terminates the system and waits for it (unless called from one of its actors).</summary>
    public void Dispose()
    {
        Task done = Terminate();
        if (ActorCell.Current is null && !(Deterministic?.IsLoopThread ?? false))
        {
            done.Wait(TimeSpan.FromSeconds(30));
        }
    }

    /// <inheritdoc />
    public override string ToString() => $"ActorSystem({Name})";

    internal long NextTempId() => Interlocked.Increment(ref _lastTempId);

    internal void OnGuardianTerminated()
    {
        _callbackScheduler.Shutdown();
        _dispatcher.Shutdown();
        _terminated.TrySetResult();
    }

    internal void DeadLetter(in Envelope envelope, IActorRef recipient, DeadLetterReason reason)
    {
        Interlocked.Increment(ref _deadLetterCount);
        Observers?.DeadLetter(in envelope, recipient, reason);
        if (reason != DeadLetterReason.LateReply && envelope.Sender is IPromiseActorRef promise)
        {
            // The question of an Ask went nowhere: fail it now rather than at its timeout.
            promise.FailUndeliverable(recipient, reason);
        }

        // Never publish a dead letter about a dead letter: a stopped subscriber would loop forever.
        if (EventStream.HasSubscribers && envelope.Message is not AllDeadLetters)
        {
            EventStream.Publish(new DeadLetter(envelope.Message, envelope.Sender, recipient));
        }
    }

    internal void Dropped(in Envelope envelope, IActorRef recipient, int capacity)
    {
        Interlocked.Increment(ref _droppedCount);
        Observers?.DeadLetter(in envelope, recipient, DeadLetterReason.MailboxFull);
        if (envelope.Sender is IPromiseActorRef promise)
        {
            promise.FailUndeliverable(recipient, DeadLetterReason.MailboxFull);
        }
        if (EventStream.HasSubscribers && envelope.Message is not AllDeadLetters)
        {
            EventStream.Publish(new Dropped(envelope.Message, envelope.Sender, recipient, $"mailbox full (capacity {capacity})"));
        }
    }

    internal void Unhandled(object message, IActorRef? sender, IActorRef recipient)
    {
        Interlocked.Increment(ref _unhandledCount);
        if (EventStream.HasSubscribers)
        {
            EventStream.Publish(new UnhandledMessage(message, sender, recipient));
        }
    }

    internal void PublishFailure(IActorRef actor, Exception cause, object? message)
    {
        Interlocked.Increment(ref _failureCount);
        if (EventStream.HasSubscribers)
        {
            EventStream.Publish(new ActorFailure(actor, cause, message));
        }
    }
}
