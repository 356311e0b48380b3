using System.Collections.Concurrent;
using System.Diagnostics;
using System.Runtime.CompilerServices;
using Akka.Configuration;
using Akka.Dispatch;
using TdxSim.Runtime.Counters;

namespace TdxSim.Runtime.Dispatch;

/// <summary>
/// The configurator Akka instantiates for <c>executor = "TdxSim.Runtime.Dispatch.HandoffExecutorConfigurator,
/// TdxSim.Runtime"</c> in a <c>type = Dispatcher</c> block. Its <c>handoff-executor</c> keys:
/// <c>threads</c> (worker threads at most; 0, the default, means one per processor), <c>max-handoffs</c> (mailboxes
/// one thread runs back to back by hand-off while other work waits, default 64) and <c>linger-us</c> (how long a
/// worker with nothing to run spins before it parks, default 20).
/// </summary>
public sealed class HandoffExecutorConfigurator : ExecutorServiceConfigurator
{
    private readonly int _threads;
    private readonly int _maxHandoffs;
    private readonly int _lingerMicroseconds;

    /// <summary>Created by Akka from the dispatcher's configuration.</summary>
    public HandoffExecutorConfigurator(Config config, IDispatcherPrerequisites prerequisites)
        : base(config, prerequisites)
    {
        ArgumentNullException.ThrowIfNull(config);
        _threads = config.GetInt("handoff-executor.threads", 0);
        if (_threads is < 0 or > HandoffExecutor.MaxThreads)
        {
            throw new ConfigurationException($"handoff-executor.threads must be 0 (one per processor) to {HandoffExecutor.MaxThreads}, not {_threads}");
        }

        _maxHandoffs = config.GetInt("handoff-executor.max-handoffs", 64);
        if (_maxHandoffs < 0)
        {
            throw new ConfigurationException($"handoff-executor.max-handoffs must be 0 or more, not {_maxHandoffs}");
        }

        _lingerMicroseconds = config.GetInt("handoff-executor.linger-us", HandoffExecutor.DefaultLingerMicroseconds);
        if (_lingerMicroseconds is < 0 or > 1_000_000)
        {
            throw new ConfigurationException($"handoff-executor.linger-us must be 0 to 1000000, not {_lingerMicroseconds}");
        }
    }

    /// <inheritdoc/>
    public override ExecutorService Produce(string id) =>
        new HandoffExecutor(id, _threads == 0 ? Environment.ProcessorCount : _threads, _maxHandoffs, _lingerMicroseconds);
}

/// <summary>
/// An Akka executor with its own worker threads, at most one per processor, and a hand-off slot per worker: the shape
/// of Go's scheduler (<c>runnext</c>, spinning Ms) and Tokio's LIFO slot. When an actor running here sends to an idle
/// actor of the same dispatcher, Akka schedules the receiver's mailbox; instead of queueing it, the executor keeps it in
/// the worker's slot and runs it on that worker as soon as the sender's mailbox run returns. A #VE round trip (vCPU →
/// module → VMM → module → vCPU) thus runs on one thread with no wake-up, while vCPUs that do not talk to each other
/// run in parallel on their own workers.
/// </summary>
/// <remarks>
/// <para>Only the most recent mailbox scheduled by a run is kept: a newer one pushes the older one to the shared
/// queue, since the last message a handler sends is the one its chain continues with (a vCPU that sends and then
/// waits). A mailbox that reschedules itself (its throughput used up, a vCPU's next slice) goes to the back of the
/// queue, never the slot; and while other work waits in the queue, a worker queues its slot after
/// <c>max-handoffs</c> hand-offs in a row, so a ping-pong between two actors cannot keep it from that work.</para>
/// <para>Why not the .NET thread pool: with two vCPUs sharing the TDX module, a third of all round trips displace a
/// mailbox to the queue, and the pool took 1 to 4 µs to run each (a semaphore release by the sender, then a woken or
/// spinning pool thread), sometimes 100 µs; and the pool keeps more threads than cores, so a spinning one took a core
/// from a working one. Here a worker whose chain ends spins for <c>linger-us</c> on the queue, where a displaced mailbox
/// reaches it in well under a microsecond, and only then parks; and there are never more workers than processors.</para>
/// <para>Workers start when work arrives and every running worker is busy, and end after a second with nothing to
/// run, so an executor that Akka never shuts down (a test's system) leaves no threads behind. Akka's mailboxes catch
/// their actors' exceptions; a fatal one ends the worker, whose queued work the others (or a new one) still run.</para>
/// <para>A handler that blocks holds its worker: TdxSim's actors never block (a vCPU that spins yields its slice).</para>
/// </remarks>
public sealed class HandoffExecutor : ExecutorService
{
    /// <summary>The most worker threads one executor may have.</summary>
    public const int MaxThreads = 1024;

    /// <summary>The default of <c>handoff-executor.linger-us</c>.</summary>
    public const int DefaultLingerMicroseconds = 20;

    private const int ChainBatch = 256;
    private static readonly long IdleExitTicks = Stopwatch.Frequency;
    private static readonly TimeSpan ParkTimeout = TimeSpan.FromMilliseconds(250);

    [ThreadStatic]
    private static HandoffExecutor? t_running;

    [ThreadStatic]
    private static IRunnable? t_current;

    [ThreadStatic]
    private static IRunnable? t_slot;

    private readonly ConcurrentQueue<IRunnable> _queue = new();
    private readonly SemaphoreSlim _wake = new(0);
    private readonly object _spawnGate = new();
    private readonly int _maxThreads;
    private readonly int _maxHandoffs;
    private readonly long _lingerTicks;
    private readonly StripedCounter _handoffs = new();
    private readonly StripedCounter _queued = new();
    private int _live;
    private int _parked;
    private int _spinning;
    private int _threadsStarted;
    private volatile bool _shutdown;

    /// <summary>
    /// An executor of at most <paramref name="maxThreads"/> workers, each running at most <paramref name="maxHandoffs"/>
    /// hand-offs in a row while work waits, and spinning <paramref name="lingerMicroseconds"/> before it parks.
    /// </summary>
    public HandoffExecutor(string id, int maxThreads, int maxHandoffs, int lingerMicroseconds = DefaultLingerMicroseconds)
        : base(id)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxThreads, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(maxThreads, MaxThreads);
        ArgumentOutOfRangeException.ThrowIfNegative(maxHandoffs);
        ArgumentOutOfRangeException.ThrowIfNegative(lingerMicroseconds);
        _maxThreads = maxThreads;
        _maxHandoffs = maxHandoffs;
        _lingerTicks = lingerMicroseconds * Stopwatch.Frequency / 1_000_000;
    }

    /// <summary>Mailbox runs handed off to the thread that scheduled them.</summary>
    public long Handoffs => _handoffs.Value;

    /// <summary>Mailbox runs that went through the shared queue.</summary>
    public long Queued => _queued.Value;

    /// <summary>Worker threads started so far (they end when idle, and start again when work comes).</summary>
    public int ThreadsStarted => Volatile.Read(ref _threadsStarted);

    /// <summary>Worker threads running now.</summary>
    public int LiveThreads => Volatile.Read(ref _live);

    /// <summary>The most workers this executor runs at once.</summary>
    public int MaxThreadCount => _maxThreads;

    /// <inheritdoc/>
    public override void Execute(IRunnable run)
    {
        ArgumentNullException.ThrowIfNull(run);
        if (ReferenceEquals(t_running, this) && !ReferenceEquals(run, t_current))
        {
            IRunnable? displaced = t_slot;
            t_slot = run;
            if (displaced is not null)
            {
                Enqueue(displaced);
            }

            return;
        }

        Enqueue(run);
    }

    /// <inheritdoc/>
    public override void Shutdown()
    {
        // Workers finish what is queued, then end; a mailbox queued after this still runs (a new worker starts).
        _shutdown = true;
        _wake.Release(Math.Max(1, Volatile.Read(ref _live)));
    }

    private void Enqueue(IRunnable run)
    {
        _queue.Enqueue(run);
        _queued.Increment();
        Signal();
    }

    /// <summary>
    /// Makes sure a worker will look at the queue: one spinning already does; else a parked one is woken; else, while
    /// fewer than the maximum run, one starts. The caller enqueued first (a full fence); a worker about to park counts
    /// itself, then looks: one of the two sees the other.
    /// </summary>
    private void Signal()
    {
        if (Volatile.Read(ref _spinning) > 0)
        {
            return;
        }

        int parked = Volatile.Read(ref _parked);
        if (parked > 0)
        {
            if (_wake.CurrentCount < parked)
            {
                _wake.Release();
            }

            return;
        }

        if (Volatile.Read(ref _live) < _maxThreads)
        {
            StartWorker();
        }
    }

    private void StartWorker()
    {
        lock (_spawnGate)
        {
            // Everyone else may have become idle meanwhile; starting one more than needed costs an idle second.
            if (Volatile.Read(ref _live) >= _maxThreads)
            {
                return;
            }

            Interlocked.Increment(ref _live);
            int n = Interlocked.Increment(ref _threadsStarted);
            var thread = new Thread(WorkerLoop, maxStackSize: 0)
            {
                IsBackground = true,
                Name = $"tdxsim-worker-{n}",
            };
            thread.UnsafeStart();
        }
    }

    private void WorkerLoop()
    {
        t_running = this;
        try
        {
            long idleSince = Stopwatch.GetTimestamp();
            while (true)
            {
                if (_queue.TryDequeue(out IRunnable? run))
                {
                    // More waiting: pass the signal on, so that one sender's spinning worker does not serve them all.
                    if (!_queue.IsEmpty)
                    {
                        Signal();
                    }

                    int handoffs = 0;
                    while (run is not null)
                    {
                        run = RunChain(run, ref handoffs);
                    }

                    idleSince = Stopwatch.GetTimestamp();
                    continue;
                }

                if (Linger())
                {
                    continue;
                }

                // Park: count, look again, wait. Leave when shut down or idle long enough, unless work came in.
                Interlocked.Increment(ref _parked);
                if (!_queue.IsEmpty)
                {
                    Interlocked.Decrement(ref _parked);
                    continue;
                }

                bool woken = _wake.Wait(ParkTimeout);
                Interlocked.Decrement(ref _parked);
                bool idleTooLong = !woken && Stopwatch.GetTimestamp() - idleSince > IdleExitTicks;
                if ((_shutdown || idleTooLong) && TryRetire())
                {
                    return;
                }
            }
        }
        catch
        {
            // A fatal exception escaped a mailbox run: this worker is gone, but what it held must still run.
            Interlocked.Decrement(ref _live);
            if (t_slot is { } left)
            {
                t_slot = null;
                Enqueue(left);
            }
            else if (!_queue.IsEmpty)
            {
                StartWorker();
            }

            throw;
        }
        finally
        {
            t_running = null;
            t_current = null;
        }
    }

    /// <summary>Ends this worker unless work arrived: a sender that saw it counted as live may not have signalled.</summary>
    private bool TryRetire()
    {
        Interlocked.Decrement(ref _live);
        if (_queue.IsEmpty)
        {
            return true;
        }

        // Work came in between the look and the leave: stay (a sender may have relied on this worker).
        Interlocked.Increment(ref _live);
        return false;
    }

    /// <summary>Spins up to the linger time for queued work; true if some arrived.</summary>
    private bool Linger()
    {
        if (_lingerTicks == 0)
        {
            return false;
        }

        Interlocked.Increment(ref _spinning);
        try
        {
            long deadline = Stopwatch.GetTimestamp() + _lingerTicks;
            var spin = default(SpinWait);
            while (_queue.IsEmpty)
            {
                if (Stopwatch.GetTimestamp() >= deadline)
                {
                    return false;
                }

                // Never a sleep (Sleep(1) costs a millisecond); a yield now and then lets this core's other threads run.
                spin.SpinOnce(sleep1Threshold: -1);
            }

            return true;
        }
        finally
        {
            // Stop counting as spinning, then look once more: a sender that saw this worker spinning sent no signal.
            Interlocked.Decrement(ref _spinning);
        }
    }

    /// <summary>
    /// Runs <paramref name="run"/> and up to <see cref="ChainBatch"/> mailboxes handed off after it; returns the next
    /// one still to run, or null when the chain ended (nothing handed off, or fairness sent it to the queue). A separate
    /// method so that it is entered often and the JIT optimizes it whole, not as the on-stack replacement of a loop
    /// that never returns.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private IRunnable? RunChain(IRunnable run, ref int handoffs)
    {
        for (int i = 0; i < ChainBatch; i++)
        {
            t_current = run;
            MailboxRunner.Run(run);
            IRunnable? next = t_slot;
            if (next is null)
            {
                return null;
            }

            t_slot = null;

            // Fairness only matters when someone waits: with nothing queued behind this worker, a long chain (one
            // vCPU's stream of #VE round trips) keeps its thread instead of paying a wake-up every few hops.
            if (++handoffs > _maxHandoffs)
            {
                if (!_queue.IsEmpty)
                {
                    Enqueue(next);
                    return null;
                }

                handoffs = 0;
            }

            _handoffs.Increment();
            run = next;
        }

        return run;
    }
}
