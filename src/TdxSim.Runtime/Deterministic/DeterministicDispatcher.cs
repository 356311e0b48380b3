using Akka.Configuration;
using Akka.Dispatch;
using TdxSim.Runtime.Dispatch;
using TdxSim.Runtime.Tracing;

namespace TdxSim.Runtime.Deterministic;

/// <summary>
/// The configurator Akka instantiates for <c>type = "TdxSim.Runtime.Deterministic.DeterministicDispatcherConfigurator,
/// TdxSim.Runtime"</c>; one <see cref="DeterministicDispatcher"/> per configuration, seeded by its <c>seed</c> key.
/// </summary>
public sealed class DeterministicDispatcherConfigurator : MessageDispatcherConfigurator
{
    private readonly DeterministicDispatcher _dispatcher;

    /// <summary>Created by Akka from the dispatcher's configuration.</summary>
    public DeterministicDispatcherConfigurator(Config config, IDispatcherPrerequisites prerequisites)
        : base(config, prerequisites)
    {
        ArgumentNullException.ThrowIfNull(config);
        _dispatcher = new DeterministicDispatcher(this, (ulong)config.GetLong("seed", 0));
    }

    /// <inheritdoc/>
    public override MessageDispatcher Dispatcher() => _dispatcher;
}

/// <summary>
/// An Akka dispatcher that runs nothing on its own: every mailbox Akka schedules joins a ready queue, and the thread
/// that calls <see cref="RunUntil"/> runs them one at a time. It is a discrete-event simulation: a mailbox is keyed by
/// the virtual time its next handling starts (the later of its head message's arrival, that is its send time plus the
/// transit cost, and the end of the actor's previous handling), the earliest runs next with virtual time moved to its
/// start, and ties, which are common (all vCPUs start at 0), go by a seeded xoshiro256** draw. With
/// <c>throughput = 1</c> each pick handles one message, so the seed fixes the interleaving; with the
/// <see cref="VirtualTimeScheduler"/> time moves only by events and timers, so a run replays byte for byte. Without a
/// cost model every start is "now" and the order is the seed's alone.
/// </summary>
public sealed class DeterministicDispatcher : MessageDispatcher
{
    private readonly object _gate = new();
    private readonly PriorityQueue<IRunnable, (long Start, ulong Tie)> _ready = new();
    private readonly Queue<IRunnable> _foreign = new();
    private readonly SemaphoreSlim _work = new(0);
    private Xoshiro256StarStar _random;
    private long _steps;
    private int _loopThread = -1;

    internal DeterministicDispatcher(MessageDispatcherConfigurator configurator, ulong seed)
        : base(configurator)
    {
        Seed = seed;
        _random = new Xoshiro256StarStar(seed);

        // Akka's base dispatcher starts at its default of 100 messages per mailbox run: take the configured value
        // (1 in TdxSim's configuration), so each seeded pick handles one message and the seed fixes the interleaving.
        Throughput = Math.Max(1, configurator.Config.GetInt("throughput", 1));
    }

    /// <summary>The seed of the schedule.</summary>
    public ulong Seed { get; }

    /// <summary>Mailbox runs so far.</summary>
    public long Steps => Interlocked.Read(ref _steps);

    /// <summary>Mailboxes waiting to run.</summary>
    public int Ready
    {
        get
        {
            lock (_gate)
            {
                return _ready.Count + _foreign.Count;
            }
        }
    }

    /// <inheritdoc/>
    protected override void ExecuteTask(IRunnable run)
    {
        lock (_gate)
        {
            // Mailboxes scheduled from another thread (the actor system's guardian creating a top-level actor, a
            // death-watch system message) arrive at a time no seed controls: they wait in a FIFO that runs before
            // the next seeded pick and draws no random number, so they cannot shift the seeded sequence.
            if (Environment.CurrentManagedThreadId == _loopThread)
            {
                // The loop's own thread: it looks at the ready queue before it ever waits, so no signal is needed.
                _ready.Enqueue(run, (StartOf(run), _random.NextUInt64()));
                return;
            }

            _foreign.Enqueue(run);
        }

        // The semaphore counts foreign mailboxes only: the loop waits on it when nothing is ready.
        _work.Release();
    }

    /// <inheritdoc/>
    protected override void Shutdown()
    {
    }

    /// <summary>
    /// The virtual clock handlings start on and the cost model's transit time, when the dispatcher simulates (set by
    /// the <see cref="TdxRuntime"/> with its cost model); without them the order is the seed's alone.
    /// </summary>
    internal VirtualTimeScheduler? Time { get; set; }

    /// <summary>The cost model whose transit time delays each message's arrival.</summary>
    internal IMessageCostModel? Costs { get; set; }

    /// <summary>When <paramref name="run"/>'s next handling starts in virtual time.</summary>
    private long StartOf(IRunnable run)
    {
        if (Time is not { } time)
        {
            return 0;
        }

        long now = time.NowNanoseconds;
        if (run is not Mailbox { MessageQueue: TracingMessageQueue queue })
        {
            return now;
        }

        long start = Math.Max(now, queue.BusyUntilNs);
        if (queue.TryPeekSentAt(out long sent) && sent >= 0)
        {
            start = Math.Max(start, sent + (Costs?.TransitNanoseconds ?? 0));
        }

        return start;
    }

    /// <summary>The virtual time the next ready mailbox starts at, or null when none is ready.</summary>
    public long? NextStart
    {
        get
        {
            lock (_gate)
            {
                if (_foreign.Count > 0)
                {
                    return Time?.NowNanoseconds ?? 0;
                }

                return _ready.TryPeek(out _, out (long Start, ulong Tie) key) ? key.Start : null;
            }
        }
    }

    /// <summary>Runs the ready mailbox that starts first (ties by the seed), moving virtual time to its start.</summary>
    /// <returns>False when none was ready.</returns>
    public bool RunOne()
    {
        IRunnable next;
        bool foreign = false;
        lock (_gate)
        {
            _loopThread = Environment.CurrentManagedThreadId;
            if (_foreign.TryDequeue(out next!))
            {
                foreign = true;
            }
            else
            {
                if (!_ready.TryDequeue(out next!, out (long Start, ulong Tie) key))
                {
                    return false;
                }

                Time?.AdvanceTo(key.Start);
            }
        }

        if (foreign)
        {
            _work.Wait(0);
        }

        _steps++;
        if (next is Mailbox { MessageQueue: TracingMessageQueue queue })
        {
            queue.RunQuota = Throughput;
            MailboxRunner.Run(next);
            queue.RunQuota = -1;
        }
        else
        {
            MailboxRunner.Run(next);
        }
        return true;
    }

    /// <summary>
    /// Runs ready mailboxes, and (with <paramref name="time"/>) fires timers by moving virtual time forward when
    /// nothing is ready, until <paramref name="until"/> completes.
    /// </summary>
    /// <param name="until">When to stop.</param>
    /// <param name="time">The virtual clock to advance when idle, or null to only run what is ready (shutdown).</param>
    /// <param name="idleGrace">How long to wait, idle with no timer, for work from other threads before giving up.</param>
    /// <returns>True when <paramref name="until"/> completed; false when everything went idle first.</returns>
    public bool RunUntil(Task until, VirtualTimeScheduler? time, TimeSpan idleGrace)
    {
        ArgumentNullException.ThrowIfNull(until);
        while (!until.IsCompleted)
        {
            // Timers are events too: one due before the next handling starts fires first, at its own time.
            if (time is not null && time.NextDue is long due && (NextStart is not long start || due <= start))
            {
                time.FireNext();
                continue;
            }

            if (RunOne())
            {
                continue;
            }

            if (time is not null && time.FireNext())
            {
                continue;
            }

            if (!WaitForWork(until, idleGrace))
            {
                return until.IsCompleted;
            }
        }

        return true;
    }

    /// <summary>Waits, in short naps so a completion elsewhere is seen promptly, for a mailbox from another thread.</summary>
    private bool WaitForWork(Task until, TimeSpan grace)
    {
        long deadline = Environment.TickCount64 + (long)grace.TotalMilliseconds;
        while (!until.IsCompleted)
        {
            if (_work.Wait(5))
            {
                // The count belongs to the mailbox RunOne will take: give it back.
                _work.Release();
                return true;
            }

            if (Environment.TickCount64 >= deadline)
            {
                return false;
            }
        }

        return true;
    }
}
