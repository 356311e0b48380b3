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

    /// <summary>
    /// The messages of <see cref="Messages"/> whose handling was timed: all of them in virtual time or with a log or
    /// trace, a deterministic sample of them in real time otherwise (<see cref="TdxRuntime.ContentionSampleInterval"/>).
    /// </summary>
    public long TimedMessages { get; private set; }

    /// <summary>The handling time of the <see cref="TimedMessages"/>, summed.</summary>
    public long TimedBusyNanoseconds { get; private set; }

    /// <summary>
    /// Nanoseconds spent handling the messages (measured in real time, the cost model's in virtual time): the timed
    /// ones' sum, scaled by <see cref="Messages"/> over <see cref="TimedMessages"/> when only a sample was timed.
    /// </summary>
    public long BusyNanoseconds => TimedMessages == Messages || TimedMessages == 0
        ? TimedBusyNanoseconds
        : (long)Math.Round((double)TimedBusyNanoseconds * Messages / TimedMessages);

    /// <summary>The most messages in the mailbox at the moment a timed one was taken, that one included.</summary>
    public int MaxQueue { get; private set; }

    /// <summary>The start of the first timed handling (clock nanoseconds), or -1 before any.</summary>
    public long FirstStartNs { get; private set; } = -1;

    /// <summary>The end of the last timed handling (clock nanoseconds).</summary>
    public long LastEndNs { get; private set; }

    /// <summary>Waits from arrival to handling of the timed messages, in nanoseconds.</summary>
    public LatencyHistogram Wait => _wait;

    /// <summary>Counts a handling that was not timed (sampled contention timing).</summary>
    internal void Count() => Messages++;

    internal void Record(long waitNs, long startNs, long busyNs, int queued)
    {
        Messages++;
        TimedMessages++;
        TimedBusyNanoseconds += busyNs;
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
