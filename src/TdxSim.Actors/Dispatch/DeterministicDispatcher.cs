using System.Collections.Concurrent;
using TdxSim.Actors.Internal;
using TdxSim.Actors.Mailboxes;
using TdxSim.Actors.Scheduling;

namespace TdxSim.Actors.Dispatch;

/// <summary>
/// Runs every actor of a system on one thread, one message per step, choosing the next actor with a
/// seeded PRNG, in virtual time: the same seed and the same inputs give the same delivery order, byte for
/// byte, on every run and every machine (the FoundationDB / TigerBeetle simulation recipe).
/// </summary>
/// <remarks>
/// <para>
/// A step: fire timers due at the current virtual time; pick one of the runnable actors uniformly with
/// xoshiro256** seeded by <see cref="Seed"/>; process one message of it (a pending system message first);
/// advance the clock by the <see cref="IMessageCostModel"/> cost. When nothing is runnable, the run methods
/// jump the clock to the next timer. Runnable actors are kept in a list whose order depends only on the
/// order things happened, never on hash codes or thread timing.
/// </para>
/// <para>
/// Two ways to drive it. Owner-driven (default): the thread that owns the system calls
/// <see cref="RunUntilIdle"/>, <see cref="RunUntil"/>, <see cref="RunFor"/> or <see cref="Step"/>; tells made from
/// that thread before running are its inputs, and the run is fully reproducible. Dedicated thread:
/// <see cref="StartDedicatedThread"/> runs the loop on its own thread until the system terminates, so
/// callers can <c>await</c> Asks as usual; it stays reproducible when outside inputs are all given before
/// the start (later outside tells interleave with the loop by real timing).
/// </para>
/// <para>
/// Tells from other threads are always safe: they go through a concurrent inbox and wake the dedicated loop.
/// Ask timeouts and supervision windows use the virtual clock, so an unanswered Ask times out as soon as
/// the simulation has nothing left to do before its deadline.
/// </para>
/// </remarks>
public sealed class DeterministicDispatcher : MessageDispatcher
{
    [ThreadStatic]
    private static DeterministicDispatcher? _threadLoop;

    private readonly List<Mailbox> _runnable = [];
    private readonly ConcurrentQueue<Mailbox> _inbox = new();
    private readonly VirtualTimeScheduler _scheduler;
    private readonly VirtualClock _clock;
    private readonly IMessageCostModel? _costModel;
    private readonly List<ScheduleEntry>? _recorded;
    private readonly Dictionary<Type, (string Name, ulong Hash)> _typeNames = [];
    private readonly ManualResetEventSlim _wake = new(false);
    private Xoshiro256StarStar _random;
    private long _steps;
    private ulong _fingerprint = StableHashing.FnvOffset;
    private int _driving;
    private Thread? _thread;
    private volatile bool _shutdown;

    internal DeterministicDispatcher(ulong seed, VirtualTimeScheduler scheduler, IMessageCostModel? costModel, bool recordSchedule)
    {
        Seed = seed;
        _random = new Xoshiro256StarStar(seed);
        _scheduler = scheduler;
        _clock = scheduler.VirtualClock;
        _costModel = costModel;
        _recorded = recordSchedule ? [] : null;
        scheduler.TimerAdded = () => _wake.Set();
    }

    /// <summary>The seed of the actor-choice PRNG.</summary>
    public ulong Seed { get; }

    /// <summary>The virtual clock (also <see cref="ActorSystem.Clock"/>).</summary>
    public VirtualClock Clock => _clock;

    /// <summary>Messages processed so far (system messages included).</summary>
    public long StepCount => Interlocked.Read(ref _steps);

    /// <summary>
    /// A 64-bit FNV-1a digest of the whole schedule so far (each step's actor path and message type), stable
    /// across processes: two runs delivered the same sequence exactly when their fingerprints and step counts match.
    /// </summary>
    public ulong Fingerprint => _fingerprint;

    /// <summary>True after <see cref="StartDedicatedThread"/> until the system terminates.</summary>
    public bool IsRunningOnDedicatedThread => _thread is not null && !_shutdown;

    /// <summary>True when the calling thread is currently running this dispatcher's loop.</summary>
    public bool IsLoopThread => _threadLoop == this;

    /// <summary>
    /// The recorded schedule, one entry per step.
    /// </summary>
    /// <exception cref="InvalidOperationException">Recording was not enabled (<see cref="ActorSystemOptions.RecordSchedule"/>).</exception>
    public IReadOnlyList<ScheduleEntry> RecordedSchedule => _recorded
        ?? throw new InvalidOperationException("The schedule is not being recorded: create the system with ActorSystemOptions.RecordSchedule = true.");

    /// <summary>
    /// Processes one message if any actor is runnable at the current virtual time (firing due timers first).
    /// Does not advance the clock to future timers. Returns false when nothing was runnable.
    /// </summary>
    public bool Step()
    {
        EnterLoop();
        try
        {
            return StepCore();
        }
        finally
        {
            ExitLoop();
        }
    }

    /// <summary>
    /// Makes one unit of progress: processes one message if any actor is runnable; otherwise moves the clock
    /// to the next timer if it falls due by <paramref name="untilNanoseconds"/>; otherwise moves the clock to
    /// <paramref name="untilNanoseconds"/> (if later). Returns false only in that last case: nothing can happen
    /// before the limit. Lets a caller interleave its own checks (which may themselves run the loop) with steps.
    /// </summary>
    public bool StepOrAdvance(long untilNanoseconds)
    {
        EnterLoop();
        try
        {
            if (StepCore())
            {
                return true;
            }

            long now = _clock.NowNanoseconds;
            if (_scheduler.NextDueNanoseconds is long due && due <= untilNanoseconds)
            {
                if (due > now)
                {
                    _clock.AdvanceTo(due);
                }

                return true;
            }

            if (untilNanoseconds > now)
            {
                _clock.AdvanceTo(untilNanoseconds);
            }

            return false;
        }
        finally
        {
            ExitLoop();
        }
    }

    /// <summary>
    /// Runs until no actor is runnable at the current virtual time, without moving the clock to future timers.
    /// </summary>
    /// <param name="maxSteps">Upper bound on steps, against actors that never go idle.</param>
    /// <returns>The number of steps taken.</returns>
    public long RunUntilIdle(long maxSteps = long.MaxValue)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(maxSteps);
        EnterLoop();
        try
        {
            long taken = 0;
            while (taken < maxSteps && StepCore())
            {
                taken++;
            }

            return taken;
        }
        finally
        {
            ExitLoop();
        }
    }

    /// <summary>
    /// Runs until <paramref name="condition"/> holds (checked before every step), jumping the virtual clock to
    /// the next timer whenever nothing is runnable.
    /// </summary>
    /// <param name="condition">Evaluated on this thread between steps.</param>
    /// <param name="virtualTimeLimit">
    /// How far virtual time may advance from now; when reached with the condition still false the clock is left
    /// at the limit. Null: no limit (stop only when nothing is runnable and no timer is pending).
    /// </param>
    /// <param name="maxSteps">Upper bound on steps, against actors that never go idle.</param>
    /// <returns>The final value of <paramref name="condition"/>.</returns>
    public bool RunUntil(Func<bool> condition, TimeSpan? virtualTimeLimit = null, long maxSteps = long.MaxValue)
    {
        ArgumentNullException.ThrowIfNull(condition);
        ArgumentOutOfRangeException.ThrowIfNegative(maxSteps);
        long limit = long.MaxValue;
        if (virtualTimeLimit is TimeSpan span)
        {
            if (span < TimeSpan.Zero)
            {
                throw new ArgumentOutOfRangeException(nameof(virtualTimeLimit), span, "The virtual time limit must be zero or positive.");
            }

            limit = SchedulerValidation.Due(_clock.NowNanoseconds, TimeUnits.ToNanoseconds(span));
        }

        EnterLoop();
        try
        {
            long taken = 0;
            while (true)
            {
                if (condition())
                {
                    return true;
                }

                if (taken >= maxSteps)
                {
                    return false;
                }

                if (StepCore())
                {
                    taken++;
                    continue;
                }

                long? next = _scheduler.NextDueNanoseconds;
                if (next is long due && due <= limit)
                {
                    if (due > _clock.NowNanoseconds)
                    {
                        _clock.AdvanceTo(due);
                    }

                    continue;
                }

                if (limit != long.MaxValue && limit > _clock.NowNanoseconds)
                {
                    _clock.AdvanceTo(limit);
                }

                return condition();
            }
        }
        finally
        {
            ExitLoop();
        }
    }

    /// <summary>Runs for <paramref name="duration"/> of virtual time, firing every timer due in it; the clock ends at now + duration.</summary>
    public void RunFor(TimeSpan duration) => RunUntil(static () => false, duration);

    /// <summary>Runs until <paramref name="task"/> completes (e.g. an Ask), or until nothing more can happen within the limit.</summary>
    /// <returns>True when the task completed.</returns>
    public bool RunUntilCompleted(Task task, TimeSpan? virtualTimeLimit = null)
    {
        ArgumentNullException.ThrowIfNull(task);
        return RunUntil(() => task.IsCompleted, virtualTimeLimit);
    }

    /// <summary>
    /// Runs the loop on a dedicated background thread until the system terminates: runnable actors are
    /// stepped, virtual time jumps to the next timer when idle, and the thread sleeps when there is nothing
    /// at all. The owner-driven methods throw while it runs.
    /// </summary>
    public void StartDedicatedThread()
    {
        if (Interlocked.CompareExchange(ref _driving, 1, 0) != 0)
        {
            throw new InvalidOperationException("The deterministic dispatcher is already being driven (by its dedicated thread or by a Run method on another thread).");
        }

        var thread = new Thread(DedicatedLoop)
        {
            IsBackground = true,
            Name = "tdxsim-deterministic-dispatcher",
        };
        _thread = thread;
        thread.Start();
    }

    internal override void Dispatch(Mailbox mailbox)
    {
        if (_threadLoop == this)
        {
            _runnable.Add(mailbox);
            return;
        }

        _inbox.Enqueue(mailbox);
        _wake.Set();
    }

    internal override void Reschedule(Mailbox mailbox) => Dispatch(mailbox);

    internal override void Shutdown()
    {
        _shutdown = true;
        _wake.Set();
    }

    private void EnterLoop()
    {
        if (Interlocked.CompareExchange(ref _driving, 1, 0) != 0)
        {
            throw new InvalidOperationException(_threadLoop == this
                ? "The deterministic dispatcher's Run methods are not reentrant: an actor handler cannot drive the loop it runs in."
                : IsRunningOnDedicatedThread
                    ? "The deterministic dispatcher runs on its dedicated thread; await results instead of calling Run methods."
                    : "The deterministic dispatcher is already being run by another thread; drive it from one thread only.");
        }

        _threadLoop = this;
    }

    private void ExitLoop()
    {
        _threadLoop = null;
        Volatile.Write(ref _driving, 0);
    }

    private void DedicatedLoop()
    {
        _threadLoop = this;
        while (!_shutdown)
        {
            _wake.Reset();
            if (StepCore())
            {
                continue;
            }

            long? next = _scheduler.NextDueNanoseconds;
            if (next is long due)
            {
                if (due > _clock.NowNanoseconds)
                {
                    _clock.AdvanceTo(due);
                }

                continue;
            }

            if (_inbox.IsEmpty && !_shutdown)
            {
                _wake.Wait();
            }
        }

        _threadLoop = null;
    }

    private bool StepCore()
    {
        while (true)
        {
            while (_inbox.TryDequeue(out Mailbox? arrived))
            {
                _runnable.Add(arrived);
            }

            _scheduler.FireDue();
            int count = _runnable.Count;
            if (count == 0)
            {
                return false;
            }

            int index = count == 1 ? 0 : (int)_random.NextBelow((uint)count);
            Mailbox mailbox = _runnable[index];
            long startedAt = _clock.NowNanoseconds;
            object? processed = mailbox.ProcessOne(out Envelope envelope);
            if (!mailbox.HasWork())
            {
                // Swap-remove: O(1), and the resulting order still depends only on the schedule so far.
                _runnable[index] = _runnable[^1];
                _runnable.RemoveAt(_runnable.Count - 1);
                if (mailbox.ReleaseAndReclaim())
                {
                    _runnable.Add(mailbox);
                }
            }

            if (processed is null)
            {
                continue;
            }

            Record(mailbox, processed, startedAt);
            if (_costModel is not null && processed is not SystemMessage)
            {
                long cost = _costModel.CostNanoseconds(in envelope, mailbox.Cell.Self);
                if (cost < 0)
                {
                    throw new InvalidOperationException($"{_costModel.GetType().Name} returned a negative cost ({cost} ns) for {processed.GetType().Name}.");
                }

                _clock.AdvanceBy(cost);
            }

            return true;
        }
    }

    private void Record(Mailbox mailbox, object processed, long startedAt)
    {
        long step = Interlocked.Increment(ref _steps);
        (string name, ulong hash) = TypeName(processed);
        ActorPath path = mailbox.Cell.Path;
        _fingerprint = StableHashing.Mix(StableHashing.Mix(_fingerprint, path.StableHash), hash);
        _recorded?.Add(new ScheduleEntry(step, path.ToString(), name, startedAt));
    }

    private (string Name, ulong Hash) TypeName(object processed)
    {
        if (processed is SystemMessage system)
        {
            // System message names are constants; hash them like type names so fingerprints stay comparable.
            Type key = system.GetType();
            if (!_typeNames.TryGetValue(key, out var cachedSystem))
            {
                cachedSystem = (system.Name, StableHashing.Fnv1a(system.Name));
                _typeNames.Add(key, cachedSystem);
            }

            return cachedSystem;
        }

        Type type = processed.GetType();
        if (!_typeNames.TryGetValue(type, out var cached))
        {
            string name = type.FullName ?? type.Name;
            cached = (name, StableHashing.Fnv1a(name));
            _typeNames.Add(type, cached);
        }

        return cached;
    }
}
