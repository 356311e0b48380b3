using TdxSim.Actors.Mailboxes;

namespace TdxSim.Actors.Dispatch;

/// <summary>
/// Bounds the cost of the hand-off optimisation. A parked mailbox normally runs as soon as its parking
/// handler returns; if that handler keeps running (a long computation, or a blocking wait, which could
/// otherwise deadlock on the very actor it told), the watchdog moves the mailbox to the thread pool after
/// it has stayed parked for one full tick (1 to 2 ms). The timer is armed only while hand-offs happen and
/// disarms itself after a quiet period, so an idle process does not wake up every millisecond.
/// </summary>
internal static class HandoffWatchdog
{
    private const int TickMilliseconds = 1;
    private const int IdleTicksBeforeDisarm = 200;
    private static readonly object Gate = new();
    private static readonly Timer Ticker = new(static _ => Tick(), null, Timeout.Infinite, Timeout.Infinite);
    private static HandoffSlot[] _slots = [];
    private static int _armed;
    private static int _idleTicks;

    /// <summary>Creates and registers the calling thread's slot.</summary>
    public static HandoffSlot Register()
    {
        var slot = new HandoffSlot(Thread.CurrentThread);
        lock (Gate)
        {
            var live = new List<HandoffSlot>(_slots.Length + 1);
            foreach (HandoffSlot s in _slots)
            {
                // Threads that ran inline Asks come and go; forget the slots of dead ones.
                if (s.Owner.IsAlive || s.HasParked)
                {
                    live.Add(s);
                }
            }

            live.Add(slot);
            Volatile.Write(ref _slots, live.ToArray());
        }

        return slot;
    }

    /// <summary>Called after a park: make sure the watchdog runs. One volatile read when already armed.</summary>
    public static void EnsureArmed()
    {
        if (Volatile.Read(ref _armed) == 0 && Interlocked.CompareExchange(ref _armed, 1, 0) == 0)
        {
            Volatile.Write(ref _idleTicks, 0);
            Ticker.Change(TickMilliseconds, TickMilliseconds);
        }
    }

    private static void Tick()
    {
        bool anyParked = false;
        foreach (HandoffSlot slot in Volatile.Read(ref _slots))
        {
            Mailbox? parked = slot.Peek();
            if (parked is null)
            {
                continue;
            }

            anyParked = true;
            long parks = slot.ParkCount;
            if (parks == slot.ObservedParkCount)
            {
                // Same park as one tick ago: its thread is still busy. Run it elsewhere.
                if (slot.TrySteal(parked))
                {
                    ThreadPool.UnsafeQueueUserWorkItem(parked, preferLocal: false);
                }
            }
            else
            {
                slot.ObservedParkCount = parks;
            }
        }

        if (anyParked)
        {
            Volatile.Write(ref _idleTicks, 0);
            return;
        }

        if (Interlocked.Increment(ref _idleTicks) < IdleTicksBeforeDisarm)
        {
            return;
        }

        // Disarm, then look again: a park racing with the disarm either sees _armed == 0 and re-arms, or is
        // seen by this second scan (both sides use full fences).
        Interlocked.Exchange(ref _armed, 0);
        Ticker.Change(Timeout.Infinite, Timeout.Infinite);
        foreach (HandoffSlot slot in Volatile.Read(ref _slots))
        {
            if (slot.HasParked)
            {
                EnsureArmed();
                return;
            }
        }
    }
}
