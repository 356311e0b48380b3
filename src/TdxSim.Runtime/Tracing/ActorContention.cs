using Akka.Actor;
using TdxSim.Runtime.Counters;

namespace TdxSim.Runtime.Tracing;

/// <summary>
/// What one actor's mailbox and handler saw over a run: messages handled, time busy handling them, how long each
/// waited from its arrival (its enqueue in real time; its send plus the transit cost in virtual time) to the start of
/// its handling, and the longest queue. One writer, the actor itself (Akka runs an actor on one thread at a time and
/// publishes its state between runs), so recording takes no lock and allocates nothing; read after the run.
/// </summary>
public sealed class ActorContention
{
    private readonly LatencyHistogram _wait = new();

    internal ActorContention(IActorRef actor) => Actor = actor;

    /// <summary>The actor.</summary>
    public IActorRef Actor { get; }

    /// <summary>Messages handled.</summary>
    public long Messages { get; private set; }

    /// <summary>Nanoseconds spent handling them (measured in real time, the cost model's in virtual time).</summary>
    public long BusyNanoseconds { get; private set; }

    /// <summary>The most messages in the mailbox at the moment one was taken, that one included.</summary>
    public int MaxQueue { get; private set; }

    /// <summary>The start of the first handling (clock nanoseconds), or -1 before any.</summary>
    public long FirstStartNs { get; private set; } = -1;

    /// <summary>The end of the last handling (clock nanoseconds).</summary>
    public long LastEndNs { get; private set; }

    /// <summary>Waits from arrival to handling, in nanoseconds.</summary>
    public LatencyHistogram Wait => _wait;

    internal void Record(long waitNs, long startNs, long busyNs, int queued)
    {
        Messages++;
        BusyNanoseconds += busyNs;
        if (waitNs >= 0)
        {
            _wait.Record(waitNs);
        }

        if (queued > MaxQueue)
        {
            MaxQueue = queued;
        }

        if (FirstStartNs < 0)
        {
            FirstStartNs = startNs;
        }

        LastEndNs = startNs + busyNs;
    }
}
