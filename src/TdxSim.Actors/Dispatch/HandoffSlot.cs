using TdxSim.Actors.Mailboxes;

namespace TdxSim.Actors.Dispatch;

/// <summary>
/// One thread's hand-off slot: at most one mailbox that was told while this thread ran an actor and that
/// this thread means to run next. The owner parks and takes with atomic exchanges; the
/// <see cref="HandoffWatchdog"/> may steal a mailbox that stays parked too long, so whoever exchanges it
/// out first owns it.
/// </summary>
internal sealed class HandoffSlot(Thread owner)
{
    private Mailbox? _parked;

    public Thread Owner { get; } = owner;

    /// <summary>Incremented on every park; the watchdog uses it to tell a long park from a new one.</summary>
    public long ParkCount { get; private set; }

    /// <summary>The watchdog's last observation of <see cref="ParkCount"/> (watchdog-private).</summary>
    public long ObservedParkCount { get; set; } = -1;

    public bool HasParked => Volatile.Read(ref _parked) is not null;

    public Mailbox? Peek() => Volatile.Read(ref _parked);

    /// <summary>Parks <paramref name="mailbox"/>, returning the one it displaced (if any).</summary>
    public Mailbox? Park(Mailbox mailbox)
    {
        ParkCount++;
        return Interlocked.Exchange(ref _parked, mailbox);
    }

    /// <summary>Takes the parked mailbox (owner side).</summary>
    public Mailbox? Take() => _parked is null ? null : Interlocked.Exchange(ref _parked, null);

    /// <summary>Takes <paramref name="expected"/> if it is still parked (watchdog side).</summary>
    public bool TrySteal(Mailbox expected) => Interlocked.CompareExchange(ref _parked, null, expected) == expected;
}
