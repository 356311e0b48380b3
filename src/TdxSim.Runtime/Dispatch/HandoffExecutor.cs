using System.Collections.Concurrent;
using Akka.Configuration;
using Akka.Dispatch;

namespace TdxSim.Runtime.Dispatch;

/// <summary>
/// The configurator Akka instantiates for <c>executor = "TdxSim.Runtime.Dispatch.HandoffExecutorConfigurator,
/// TdxSim.Runtime"</c> in a <c>type = Dispatcher</c> block. Its <c>handoff-executor.max-handoffs</c> key bounds how many
/// mailboxes one thread runs back to back by hand-off before it lets queued work in (default 64).
/// </summary>
public sealed class HandoffExecutorConfigurator : ExecutorServiceConfigurator
{
    private readonly int _maxHandoffs;

    /// <summary>Created by Akka from the dispatcher's configuration.</summary>
    public HandoffExecutorConfigurator(Config config, IDispatcherPrerequisites prerequisites)
        : base(config, prerequisites)
    {
        ArgumentNullException.ThrowIfNull(config);
        _maxHandoffs = config.GetInt("handoff-executor.max-handoffs", 64);
        if (_maxHandoffs < 0)
        {
            throw new ConfigurationException($"handoff-executor.max-handoffs must be 0 or more, not {_maxHandoffs}");
        }
    }

    /// <inheritdoc/>
    public override ExecutorService Produce(string id) => new HandoffExecutor(id, _maxHandoffs);
}

/// <summary>
/// An Akka executor on the .NET thread pool with a hand-off slot per thread, the shape of Go's <c>runnext</c> and
/// Tokio's LIFO slot. When an actor running on this executor sends to an idle actor of the same dispatcher, Akka
/// schedules the receiver's mailbox; instead of queueing it to the pool (a thread wake-up, microseconds), the executor
/// keeps it in the calling thread's slot and runs it on that thread as soon as the sender's mailbox run returns. A #VE
/// round trip (vCPU → module → VMM → module → vCPU) thus runs on one thread with no wake-up, while vCPUs that do not
/// talk to each other still run in parallel on their own threads.
/// </summary>
/// <remarks>
/// <para>Only the most recent mailbox scheduled by a run is kept: a newer one pushes the older one to the pool, since
/// the last message a handler sends is the one its chain continues with (a vCPU that sends and then waits).</para>
/// <para>Fairness: a mailbox that reschedules itself (its throughput used up, a vCPU's next slice) goes to the back
/// of the pool's queue, never the slot; and after <c>max-handoffs</c> hand-offs in a row the thread queues the slot
/// too, so a ping-pong between two actors cannot keep a thread from work queued behind it.</para>
/// <para>The pool's work item is the executor itself, one per queued mailbox, so queueing allocates nothing.</para>
/// </remarks>
public sealed class HandoffExecutor : ExecutorService, IThreadPoolWorkItem
{
    [ThreadStatic]
    private static HandoffExecutor? t_running;

    [ThreadStatic]
    private static IRunnable? t_current;

    [ThreadStatic]
    private static IRunnable? t_slot;

    private readonly ConcurrentQueue<IRunnable> _queue = new();
    private readonly int _maxHandoffs;
    private long _handoffs;
    private long _queued;

    /// <summary>An executor whose threads run at most <paramref name="maxHandoffs"/> hand-offs in a row.</summary>
    public HandoffExecutor(string id, int maxHandoffs)
        : base(id)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(maxHandoffs);
        _maxHandoffs = maxHandoffs;
    }

    /// <summary>Mailbox runs handed off to the thread that scheduled them.</summary>
    public long Handoffs => Interlocked.Read(ref _handoffs);

    /// <summary>Mailbox runs queued to the thread pool.</summary>
    public long Queued => Interlocked.Read(ref _queued);

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
        // Nothing to stop: the threads are the pool's, and a mailbox queued during termination still runs.
    }

    /// <summary>One queued mailbox, then whatever it hands off, on a pool thread.</summary>
    void IThreadPoolWorkItem.Execute()
    {
        if (!_queue.TryDequeue(out IRunnable? run))
        {
            return;
        }

        HandoffExecutor? outer = t_running;
        IRunnable? outerCurrent = t_current;
        t_running = this;
        try
        {
            int handoffs = 0;
            while (true)
            {
                t_current = run;
                run.Run();
                run = t_slot!;
                t_slot = null;
                if (run is null)
                {
                    break;
                }

                if (++handoffs > _maxHandoffs)
                {
                    Enqueue(run);
                    break;
                }

                Interlocked.Increment(ref _handoffs);
            }
        }
        finally
        {
            // A run that threw (Akka's mailbox catches its actors' exceptions, so only a fatal one) must not strand
            // what it handed off.
            if (t_slot is { } left)
            {
                t_slot = null;
                Enqueue(left);
            }

            t_current = outerCurrent;
            t_running = outer;
        }
    }

    private void Enqueue(IRunnable run)
    {
        _queue.Enqueue(run);
        Interlocked.Increment(ref _queued);
        ThreadPool.UnsafeQueueUserWorkItem(this, preferLocal: false);
    }
}
