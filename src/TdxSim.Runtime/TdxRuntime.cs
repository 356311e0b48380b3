using Akka.Actor;
using Akka.Event;
using TdxSim.Runtime.Deterministic;
using TdxSim.Runtime.Time;
using TdxSim.Runtime.Tracing;

namespace TdxSim.Runtime;

/// <summary>
/// What TdxSim adds to an Akka <see cref="ActorSystem"/>, as an Akka extension (<c>TdxRuntime.Get(system)</c>):
/// the clock (virtual when the system runs on <see cref="VirtualTimeScheduler"/>), correlation ids, the delivery
/// observers of the message log, the virtual-time cost model, and counters of what never reached a handler, taken
/// synchronously from Akka's EventStream (<see cref="AllDeadLetters"/>: dead letters, drops, unhandled messages).
/// </summary>
public sealed class TdxRuntime : IExtension
{
    // The runtimes whose construction finished: a mailbox looks its runtime up here, never through Akka's extension
    // registry, because creating the extension sends messages (EventStream subscriptions) into mailboxes.
    private static readonly System.Runtime.CompilerServices.ConditionalWeakTable<ActorSystem, TdxRuntime> Ready = [];

    private readonly object _observersGate = new();
    private readonly UndeliveredListener _listener;
    private IDeliveryObserver[] _observers = [];
    /// <summary>How many correlation ids a thread of a concurrent system takes at a time.</summary>
    internal const long CorrelationBlock = 4096;

    [ThreadStatic]
    private static TdxRuntime? t_idOwner;

    [ThreadStatic]
    private static long t_nextId;

    [ThreadStatic]
    private static long t_lastId;

    private readonly bool _denseCorrelation;
    private readonly List<ActorContention> _contention = [];
    private IMessageCostModel? _costModel;
    private bool _contentionWanted;
    private bool _observersWantSendTimes;
    private int _contentionSampleInterval = DefaultContentionSampleInterval;

    // The handling in progress on the deterministic dispatcher's thread (simulation only): the clock reads its
    // local time, its start plus what the cost model says it has spent so far.
    private object? _handlerMessage;
    private IActorRef? _handlerActor;
    private int _handlerThread = -1;
    private long _correlation;
    private long _deadLetters;
    private long _dropped;
    private long _unhandled;
    private long _failures;

    internal TdxRuntime(ExtendedActorSystem system)
    {
        System = system;
        VirtualTime = system.Scheduler as VirtualTimeScheduler;
        Clock = VirtualTime is not null ? new SimulationClock(this) : new MonotonicClock();
        DispatcherId = system.Settings.Config.GetString("tdxsim.dispatcher-id", null) is { Length: > 0 } id ? id : null;
        Deterministic = DispatcherId is not null && system.Dispatchers.HasDispatcher(DispatcherId)
            ? system.Dispatchers.Lookup(DispatcherId) as DeterministicDispatcher
            : null;
        _denseCorrelation = Deterministic is not null || VirtualTime is not null;
        int interval = system.Settings.Config.GetInt("tdxsim.contention-sample-interval", DefaultContentionSampleInterval);
        if (interval is < 1 or > MaxContentionSampleInterval)
        {
            throw new Akka.Configuration.ConfigurationException(
                $"tdxsim.contention-sample-interval must be 1 (every message) to {MaxContentionSampleInterval}, not {interval}");
        }

        _contentionSampleInterval = interval;
        _listener = new UndeliveredListener(this, system);
        system.EventStream.Subscribe(_listener, typeof(AllDeadLetters));
        Ready.AddOrUpdate(system, this);
    }

    /// <summary>The system this extension belongs to.</summary>
    public ExtendedActorSystem System { get; }

    /// <summary>The only source of time for TdxSim's actors and the message log.</summary>
    public IClock Clock { get; }

    /// <summary>The virtual-time scheduler, when the system runs on one (deterministic mode).</summary>
    public VirtualTimeScheduler? VirtualTime { get; }

    /// <summary>The dispatcher TdxSim's actors run on (<c>tdxsim.dispatcher-id</c>), or null for Akka's default.</summary>
    public string? DispatcherId { get; }

    /// <summary>The seeded single-thread dispatcher, in deterministic mode.</summary>
    public DeterministicDispatcher? Deterministic { get; }

    /// <summary>
    /// The costs of the discrete-event simulation (deterministic mode only): set, every actor on the deterministic
    /// dispatcher has its own timeline and handlings run in order of their virtual start (see
    /// <see cref="IMessageCostModel"/>).
    /// </summary>
    public IMessageCostModel? CostModel
    {
        get => _costModel;
        set
        {
            _costModel = value;
            Simulation = VirtualTime is not null && Deterministic is not null ? value : null;
            if (Deterministic is { } loop && VirtualTime is { } time)
            {
                loop.Time = value is null ? null : time;
                loop.Costs = value;
                time.Local = value is null ? null : Clock;
            }

            UpdateSendTimesWanted();
        }
    }

    /// <summary>The cost model when the runtime simulates (virtual time on the deterministic dispatcher), else null.</summary>
    internal IMessageCostModel? Simulation { get; private set; }

    /// <summary>
    /// Whether every <see cref="TdxActor"/> records its <see cref="ActorContention"/> (messages, busy time, waits,
    /// queue length): costs two clock reads per timed message in real time (every message, or a sample of them: see
    /// <see cref="ContentionSampleInterval"/>), nothing extra in virtual time.
    /// </summary>
    public bool ContentionWanted
    {
        get => _contentionWanted;
        set
        {
            _contentionWanted = value;
            UpdateSendTimesWanted();
        }
    }

    /// <summary>True while every message needs its send time (an observer reads them, contention is recorded exactly, or time is simulated).</summary>
    public bool SendTimesWanted { get; private set; }

    /// <summary>The default of <see cref="ContentionSampleInterval"/> (<c>tdxsim.contention-sample-interval</c>).</summary>
    public const int DefaultContentionSampleInterval = 17;

    /// <summary>The largest <see cref="ContentionSampleInterval"/>.</summary>
    public const int MaxContentionSampleInterval = 65_536;

    /// <summary>
    /// In real time, when the contention report is the only thing that wants timestamps (no message log, trace or
    /// service-time observer, no simulation), each receiving actor's mailbox stamps every this-many-th message it is
    /// sent, and only those are timed (wait, handling time, queue length); every message is still counted, and busy
    /// time is scaled by messages over timed ones. 1 times every message. A prime by default (17), so the sample
    /// does not lock onto one message of a round trip's fixed pattern (the TDX module receives 4 per #VE, 2 per
    /// paravirt TDVMCALL). Virtual time, and any run with a log or trace, is always exact.
    /// From <c>tdxsim.contention-sample-interval</c>.
    /// </summary>
    public int ContentionSampleInterval
    {
        get => _contentionSampleInterval;
        set
        {
            ArgumentOutOfRangeException.ThrowIfLessThan(value, 1);
            ArgumentOutOfRangeException.ThrowIfGreaterThan(value, MaxContentionSampleInterval);
            _contentionSampleInterval = value;
            UpdateSendTimesWanted();
        }
    }

    /// <summary>
    /// The stride of sampled contention timing (see <see cref="ContentionSampleInterval"/>) while it applies, else 0
    /// (contention off, or timed exactly: every message then has its send time).
    /// </summary>
    public int ContentionStride { get; private set; }

    /// <summary>
    /// Whether a message with send stamp <paramref name="sentAtNs"/> gets its handling timed for the contention report:
    /// every message when timing is exact, only the stamped sample when it is sampled.
    /// </summary>
    internal bool TimesContentionOf(long sentAtNs) => ContentionWanted && (ContentionStride == 0 || sentAtNs >= 0);

    /// <summary>Messages sent to a stopped or unknown actor.</summary>
    public long DeadLetterCount => Interlocked.Read(ref _deadLetters);

    /// <summary>Messages Akka dropped.</summary>
    public long DroppedCount => Interlocked.Read(ref _dropped);

    /// <summary>Messages an actor had no handler for.</summary>
    public long UnhandledCount => Interlocked.Read(ref _unhandled);

    /// <summary>Actor failures a supervisor saw (<see cref="CountFailure"/>).</summary>
    public long FailureCount => Interlocked.Read(ref _failures);

    /// <summary>The extension of <paramref name="system"/>, created on first use.</summary>
    public static TdxRuntime Get(ActorSystem system) => system.WithExtension<TdxRuntime, TdxRuntimeProvider>();

    /// <summary>The extension of <paramref name="system"/> if it exists already.</summary>
    internal static TdxRuntime? TryGet(ActorSystem system) => Ready.TryGetValue(system, out TdxRuntime? runtime) ? runtime : null;

    /// <summary>
    /// A fresh correlation id, unique in this system. On the deterministic dispatcher they are 1, 2, 3, ... in the
    /// order drawn, so a seed replays its ids. Concurrent threads take blocks of <see cref="CorrelationBlock"/> ids and
    /// draw from their own block, so vCPUs on different cores do not contend for one counter on every TDCALL.
    /// </summary>
    public long NewCorrelationId()
    {
        if (_denseCorrelation)
        {
            return Interlocked.Increment(ref _correlation);
        }

        if (!ReferenceEquals(t_idOwner, this) || t_nextId == t_lastId)
        {
            long last = Interlocked.Add(ref _correlation, CorrelationBlock);
            t_nextId = last - CorrelationBlock;
            t_lastId = last;
            t_idOwner = this;
        }

        return ++t_nextId;
    }

    /// <summary><paramref name="props"/> on TdxSim's dispatcher (<see cref="DispatcherId"/>).</summary>
    public Props Configure(Props props)
    {
        ArgumentNullException.ThrowIfNull(props);
        return DispatcherId is { } id ? props.WithDispatcher(id) : props;
    }

    /// <summary>
    /// Creates a top-level actor and, in deterministic mode, waits until Akka has finished starting it. A top-level
    /// actor is a <see cref="RepointableActorRef"/> that the /user guardian points at its real cell on the guardian's
    /// own thread: its mailbox can already run on the deterministic loop while messages sent to it (its children's
    /// first replies) still sit in the placeholder cell, to be handed over by that other thread later. The loop would
    /// then see nothing ready, fire the next timer (the time limit) and end a run that had barely begun.
    /// </summary>
    /// <exception cref="TimeoutException">The guardian did not start the actor within <paramref name="timeout"/>.</exception>
    public IActorRef StartTopLevel(Props props, string name, TimeSpan timeout)
    {
        ArgumentNullException.ThrowIfNull(props);
        IActorRef actor = System.ActorOf(Configure(props), name);
        if (Deterministic is null || actor is not RepointableActorRef repointable)
        {
            return actor;
        }

        var spin = new SpinWait();
        long deadline = Environment.TickCount64 + (long)timeout.TotalMilliseconds;
        while (!repointable.IsStarted)
        {
            if (Environment.TickCount64 > deadline)
            {
                throw new TimeoutException($"the actor system did not start '{name}' within {timeout.TotalSeconds:0.#} s");
            }

            spin.SpinOnce(sleep1Threshold: 20);
        }

        return actor;
    }

    /// <summary>Attaches an observer of every delivery (the message log, the trace, counters).</summary>
    public void AddDeliveryObserver(IDeliveryObserver observer)
    {
        ArgumentNullException.ThrowIfNull(observer);
        lock (_observersGate)
        {
            _observers = [.. _observers, observer];
            _observersWantSendTimes |= observer.WantsSendTimes;
            HandledWanted |= observer.WantsHandled;
            UpdateSendTimesWanted();
        }
    }

    /// <summary>
    /// Detaches every delivery observer: nothing delivered from now on is logged, traced or timed. A deterministic TD
    /// calls it once its outcome is in, before <see cref="Terminate"/>: while the system stops, which queued messages
    /// still reach an actor before it stops depends on Akka's shutdown threads, so a log that went on through the
    /// shutdown would differ from run to run of the same seed.
    /// </summary>
    public void DetachDeliveryObservers()
    {
        lock (_observersGate)
        {
            _observers = [];
            _observersWantSendTimes = false;
            HandledWanted = false;
            UpdateSendTimesWanted();
        }
    }

    /// <summary>
    /// Terminates the system. In deterministic mode its actors stop on the deterministic dispatcher, which runs only
    /// when driven: this runs it on the calling thread until Akka has stopped them all.
    /// </summary>
    /// <returns>Whether the system terminated within <paramref name="timeout"/>.</returns>
    public bool Terminate(TimeSpan timeout)
    {
        Task terminated = System.Terminate();
        Deterministic?.RunUntil(terminated, time: null, timeout);
        return terminated.Wait(timeout);
    }

    /// <summary>The contention records of every actor that handled a message while <see cref="ContentionWanted"/>.</summary>
    public IReadOnlyList<ActorContention> ContentionRecords()
    {
        lock (_contention)
        {
            return [.. _contention];
        }
    }

    /// <summary>A new contention record for <paramref name="actor"/>, listed in <see cref="ContentionRecords"/>.</summary>
    internal ActorContention Track(IActorRef actor)
    {
        var record = new ActorContention(actor);
        lock (_contention)
        {
            _contention.Add(record);
        }

        return record;
    }

    /// <summary>Marks the start of a simulated handling (the clock now reads its local time).</summary>
    internal void BeginHandling(object message, IActorRef actor)
    {
        _handlerMessage = message;
        _handlerActor = actor;
        _handlerThread = Environment.CurrentManagedThreadId;
    }

    /// <summary>Marks the end of a simulated handling.</summary>
    internal void EndHandling()
    {
        _handlerMessage = null;
        _handlerActor = null;
        _handlerThread = -1;
    }

    private void UpdateSendTimesWanted()
    {
        bool sampled = _contentionWanted && Simulation is null && !_observersWantSendTimes && !HandledWanted && _contentionSampleInterval > 1;
        ContentionStride = sampled ? _contentionSampleInterval : 0;
        SendTimesWanted = _observersWantSendTimes || (_contentionWanted && !sampled) || Simulation is not null;
    }

    /// <summary>Virtual time as a running handler sees it: its start plus its cost so far.</summary>
    private sealed class SimulationClock(TdxRuntime runtime) : IClock
    {
        public long NowNanoseconds
        {
            get
            {
                long now = runtime.VirtualTime!.NowNanoseconds;
                if (runtime._handlerMessage is { } message && runtime.Simulation is { } costs
                    && runtime._handlerThread == Environment.CurrentManagedThreadId)
                {
                    now += costs.Elapsed(message, runtime._handlerActor!);
                }

                return now;
            }
        }
    }

    /// <summary>Counts a failure seen by a supervisor (an emulator bug in TdxSim's actors).</summary>
    public void CountFailure() => Interlocked.Increment(ref _failures);

    /// <summary>Whether an observer wants <see cref="IDeliveryObserver.OnHandled"/> (each handling's service time).</summary>
    public bool HandledWanted { get; private set; }

    internal void Handled(IActorRef recipient, long serviceNs)
    {
        IDeliveryObserver[] observers = _observers;
        for (int i = 0; i < observers.Length; i++)
        {
            if (observers[i].WantsHandled)
            {
                observers[i].OnHandled(recipient, serviceNs);
            }
        }
    }

    internal void Delivered(in Delivery delivery, IActorRef recipient)
    {
        IDeliveryObserver[] observers = _observers;
        for (int i = 0; i < observers.Length; i++)
        {
            observers[i].OnDelivered(in delivery, recipient);
        }
    }

    internal void Undelivered(object message, IActorRef? sender, IActorRef recipient, UndeliveredReason reason)
    {
        switch (reason)
        {
            case UndeliveredReason.Dropped:
                Interlocked.Increment(ref _dropped);
                break;
            case UndeliveredReason.Unhandled:
                Interlocked.Increment(ref _unhandled);
                break;
            default:
                Interlocked.Increment(ref _deadLetters);
                break;
        }

        var delivery = new Delivery(message, sender, Correlation.Current, Delivery.NoSendTime);
        foreach (IDeliveryObserver observer in _observers)
        {
            observer.OnUndelivered(in delivery, recipient, reason);
        }

        Undelivery?.Invoke(new UndeliveredMessage(message, sender, recipient, reason));
    }

    /// <summary>Raised, on the publishing thread, for each message that never reached a handler.</summary>
    public event Action<UndeliveredMessage>? Undelivery;

    /// <summary>
    /// Subscribed to the EventStream: an actor ref whose Tell runs on the publisher's thread, so a dead letter is
    /// counted before the send that caused it returns (a test or a run's summary never misses one).
    /// </summary>
    private sealed class UndeliveredListener : MinimalActorRef
    {
        private readonly TdxRuntime _runtime;

        public UndeliveredListener(TdxRuntime runtime, ExtendedActorSystem system)
        {
            _runtime = runtime;
            Provider = system.Provider;
            Path = new RootActorPath(system.Provider.DefaultAddress) / "system" / "tdxsim-undelivered";
        }

        public override ActorPath Path { get; }

        public override IActorRefProvider Provider { get; }

        protected override void TellInternal(object message, IActorRef sender)
        {
            switch (message)
            {
                case UnhandledMessage u:
                    _runtime.Undelivered(u.Message, u.Sender, u.Recipient, UndeliveredReason.Unhandled);
                    break;
                case Dropped d:
                    _runtime.Undelivered(d.Message, d.Sender, d.Recipient, UndeliveredReason.Dropped);
                    break;
                case SuppressedDeadLetter:
                    break;
                case AllDeadLetters d:
                    _runtime.Undelivered(d.Message, d.Sender, d.Recipient, UndeliveredReason.DeadLetter);
                    break;
            }
        }
    }
}

/// <summary>A message that never reached a handler.</summary>
/// <param name="Message">The message.</param>
/// <param name="Sender">Its sender, if any.</param>
/// <param name="Recipient">Where it was going.</param>
/// <param name="Reason">Why it did not arrive.</param>
public sealed record UndeliveredMessage(object Message, IActorRef? Sender, IActorRef Recipient, UndeliveredReason Reason);

/// <summary>The Akka extension id of <see cref="TdxRuntime"/>.</summary>
public sealed class TdxRuntimeProvider : ExtensionIdProvider<TdxRuntime>
{
    /// <inheritdoc/>
    public override TdxRuntime CreateExtension(ExtendedActorSystem system) => new(system);
}
