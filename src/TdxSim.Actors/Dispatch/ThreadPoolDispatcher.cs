using TdxSim.Actors.Mailboxes;

namespace TdxSim.Actors.Dispatch;

/// <summary>
/// Runs mailboxes on the .NET thread pool, avoiding thread switches where it safely can.
/// </summary>
/// <remarks>
/// <para>
/// Hand-off: when an actor running here tells an idle actor, the receiver is not queued to the pool but
/// parked in this thread's <see cref="HandoffSlot"/> (at most one; a second displaces the first to the pool).
/// When the sender's batch ends, this thread runs the parked receiver next: a request/reply chain then runs
/// on one warm thread with no wake-up latency. If the sender still has messages after the handler that
/// parked the receiver, the receiver goes to the pool at once, so two busy actors still run in parallel.
/// A receiver whose parking handler keeps running for more than a tick (1-2 ms) is moved to the pool by the
/// <see cref="HandoffWatchdog"/>, so long or blocking handlers delay it boundedly and cannot deadlock it.
/// </para>
/// <para>
/// Runs are a loop, never recursion: <see cref="Run"/> takes the next mailbox from the slot after each
/// batch, and every <see cref="MaxHandoffChain"/> consecutive hand-offs it returns to the pool if other work
/// is waiting there, so a ping-pong pair cannot monopolise a thread while others wait. Actor guarantees are
/// untouched: a mailbox runs only on the thread that claimed its <c>Scheduled</c> bit, and per-sender order
/// is the channel's FIFO order.
/// </para>
/// </remarks>
internal sealed class ThreadPoolDispatcher : MessageDispatcher
{
    /// <summary>Consecutive hand-offs one thread runs between checks for other work waiting in the pool.</summary>
    public const int MaxHandoffChain = 256;

    [ThreadStatic]
    private static bool _threadRunning;

    [ThreadStatic]
    private static HandoffSlot? _threadSlot;

    /// <summary>True while this thread runs mailboxes of a concurrent dispatcher.</summary>
    public static bool IsRunningHere => _threadRunning;

    /// <summary>True when a mailbox waits in this thread's hand-off slot.</summary>
    public static bool HasHandoff => _threadSlot is { HasParked: true };

    /// <summary>
    /// Runs <paramref name="first"/> (whose <c>Scheduled</c> bit the caller owns), then whatever it handed
    /// off, on the calling thread. Entry point for pool work items and for inline Ask.
    /// </summary>
    public static void Run(Mailbox first)
    {
        HandoffSlot slot = _threadSlot ??= HandoffWatchdog.Register();
        _threadRunning = true;
        try
        {
            Mailbox next = first;
            int chain = 0;
            while (true)
            {
                next.RunBatch();
                Mailbox? handoff = slot.Take();
                if (handoff is null)
                {
                    break;
                }

                if (++chain == MaxHandoffChain)
                {
                    // Fairness check, every MaxHandoffChain hand-offs: return to the pool only when other work
                    // waits there. Yielding to an empty pool bought nothing but a wake-up of another worker, which
                    // then often took the chain over: a one-vCPU TD crossed threads every 64 round trips (100k
                    // context switches per million operations instead of about 20k; p99 3-4 us instead of 1.6-2.3 us).
                    // The chain goes to this thread's local queue, so the pool's other workers take the waiting
                    // work while this one carries on.
                    if (ThreadPool.PendingWorkItemCount > 0)
                    {
                        ThreadPool.UnsafeQueueUserWorkItem(handoff, preferLocal: true);
                        break;
                    }

                    chain = 0;
                }

                next = handoff;
            }
        }
        finally
        {
            _threadRunning = false;
            // Only reachable with a parked mailbox if a run threw (a runtime bug): never strand a claimed mailbox.
            FlushHandoff();
        }
    }

    /// <summary>Moves the parked mailbox, if any, to the pool.</summary>
    public static void FlushHandoff()
    {
        Mailbox? handoff = _threadSlot?.Take();
        if (handoff is not null)
        {
            ThreadPool.UnsafeQueueUserWorkItem(handoff, preferLocal: false);
        }
    }

    internal override void Dispatch(Mailbox mailbox)
    {
        if (_threadRunning)
        {
            Mailbox? displaced = _threadSlot!.Park(mailbox);
            if (displaced is not null)
            {
                ThreadPool.UnsafeQueueUserWorkItem(displaced, preferLocal: false);
            }

            HandoffWatchdog.EnsureArmed();
            return;
        }

        ThreadPool.UnsafeQueueUserWorkItem(mailbox, preferLocal: false);
    }

    internal override void Reschedule(Mailbox mailbox) => ThreadPool.UnsafeQueueUserWorkItem(mailbox, preferLocal: false);
}
