using Akka.Actor;
using TdxSim.Runtime.Tracing;

namespace TdxSim.Runtime;

/// <summary>
/// The base of every TdxSim actor: an Akka <see cref="ReceiveActor"/> whose <see cref="AroundReceive"/> makes the
/// message's correlation id ambient while its handler runs (so every message it sends inherits it), reports the
/// delivery to the <see cref="TdxRuntime"/>'s observers (the message log, the trace, counters) and, in deterministic
/// mode, charges the handler's cost to virtual time.
/// </summary>
public abstract class TdxActor : ReceiveActor
{
    private readonly IActorContext _context;
    private readonly IActorRef _self;

    // This actor's queue when it is a tracing one (the default mailbox of a TdxSim system): the correlation id and
    // send time of the message being handled come from it.
    private readonly TracingMessageQueue? _queue;
    private ActorContention? _contention;

    /// <summary>Resolves this system's <see cref="TdxRuntime"/>.</summary>
    protected TdxActor()
    {
        _context = Context;
        _self = _context.Self;
        _queue = (_context as ActorCell)?.Mailbox?.MessageQueue as TracingMessageQueue;
        Runtime = TdxRuntime.Get(_context.System);
    }

    /// <summary>
    /// This actor's reference, kept from construction: Akka's <c>Self</c> looks the current cell up in thread-local
    /// state on every use, and a handler on the #VE path uses it for each message it sends.
    /// </summary>
    protected new IActorRef Self => _self;

    /// <summary>The sender of the message being handled (Akka's <c>Sender</c>, without the thread-local lookup).</summary>
    protected new IActorRef Sender => _context.Sender;

    /// <summary>The runtime extension of this actor's system.</summary>
    protected TdxRuntime Runtime { get; }

    /// <summary>
    /// In a simulated (deterministic) run, the virtual time the handling in progress started at; -1 otherwise.
    /// </summary>
    protected long HandlingStartNs { get; private set; } = -1;

    /// <summary>The cost model's transit time of a message, in a simulated run (0 otherwise).</summary>
    protected long TransitNs => Runtime.Simulation?.TransitNanoseconds ?? 0;

    /// <summary>The runtime's clock: virtual nanoseconds in deterministic mode, monotonic ones otherwise.</summary>
    protected long Now => Runtime.Clock.NowNanoseconds;

    /// <summary>
    /// The runtime's clock to within a few milliseconds, for timeouts: in a simulated run the same as <see cref="Now"/>;
    /// on real time the kernel's coarse monotonic clock (<see cref="Environment.TickCount64"/>), a read of a few
    /// nanoseconds where the precise clock costs 10-30 (a TSC or pvclock read). A vCPU stamps every request it makes
    /// for the reply watchdog, so on the #VE path this saves two precise reads per round trip.
    /// </summary>
    protected long CoarseNow => Runtime.VirtualTime is null ? CoarseRealTimeNs : Now;

    /// <summary>
    /// <see cref="CoarseNow"/> for a stamp of <see cref="TellAndStamp"/> just taken: in a simulated run the stamp itself
    /// (virtual time is exact and free), on real time the coarse clock.
    /// </summary>
    protected long CoarseOf(long stampNs) => Runtime.VirtualTime is null ? CoarseRealTimeNs : stampNs;

    /// <summary>
    /// Sends <paramref name="message"/> like <see cref="TellAndStamp"/>, but returns the time it left on the clock of
    /// <see cref="CoarseNow"/>: a simulated run gets the exact send stamp, a real-time one pays no precise clock read.
    /// </summary>
    protected long TellAndStampCoarse(IActorRef receiver, object message)
    {
        if (Runtime.VirtualTime is not null)
        {
            return TellAndStamp(receiver, message);
        }

        ArgumentNullException.ThrowIfNull(receiver);
        receiver.Tell(message, _self);
        return CoarseRealTimeNs;
    }

    /// <summary>The kernel's coarse monotonic clock (milliseconds, CLOCK_MONOTONIC_COARSE on Linux) in nanoseconds.</summary>
    private static long CoarseRealTimeNs => Environment.TickCount64 * 1_000_000;

    /// <summary>
    /// Sends <paramref name="message"/> to <paramref name="receiver"/> from this actor and returns the time it left: the
    /// send stamp the mailbox took (when the log, trace or exact contention timing wants every send time), else
    /// <see cref="Now"/> read just before the send. One clock read instead of two on the #VE path.
    /// </summary>
    protected long TellAndStamp(IActorRef receiver, object message)
    {
        ArgumentNullException.ThrowIfNull(receiver);
        TdxRuntime runtime = Runtime;
        if (!runtime.SendTimesWanted)
        {
            long now = runtime.Clock.NowNanoseconds;
            receiver.Tell(message, _self);
            return now;
        }

        int stamps = TracingMessageQueue.StampsOnThisThread;
        receiver.Tell(message, _self);
        return TracingMessageQueue.LastStampSinceOrNow(stamps, runtime.Clock);
    }

    /// <summary>
    /// Gives up the thread after this message: the mailbox run ends even if the dispatcher's throughput (30 messages
    /// by default) would let it go on, so an actor that keeps rescheduling itself (a spinning vCPU) lets the actors
    /// queued behind it run after each of its steps, not after thirty.
    /// </summary>
    protected void YieldThread() => _queue?.YieldAfterThisMessage();

    /// <summary>
    /// Starts a new correlation: messages this handler sends from now on carry a fresh id instead of the one of the
    /// message being handled (a vCPU does so for each TD exit or TDCALL of the guest).
    /// </summary>
    protected long StartCorrelation() => Correlation.Current = Runtime.NewCorrelationId();

    /// <summary>
    /// Handles the few message types of a hot path by a direct type test, ahead of the <c>Receive&lt;T&gt;</c> handlers;
    /// true if it did. Akka's <see cref="ReceiveActor"/> finds a handler through its compiled matcher, a lambda per
    /// actor that tests the types in registration order behind two delegate calls: on a #VE round trip of eight
    /// deliveries that is measurable. A type handled here is not also registered with <c>Receive&lt;T&gt;</c> (one
    /// place says what the actor does with it), and this path goes first whatever the current behaviour, so an
    /// actor must not <c>Become</c> another behaviour for these types. The default handles nothing.
    /// </summary>
    protected virtual bool ReceiveDirect(object message) => false;

    /// <inheritdoc/>
    protected override bool AroundReceive(Receive receive, object message)
    {
        long correlation = 0;
        long sentAtNs = Delivery.NoSendTime;
        int queued = 0;
        _queue?.TryGetLast(message, out correlation, out sentAtNs, out queued);
        TdxRuntime runtime = Runtime;
        if (correlation == 0)
        {
            correlation = runtime.NewCorrelationId();
        }

        // Simulated, the dispatcher has moved virtual time to this handling's start; in real time the start is taken
        // only for the contention report.
        IMessageCostModel? simulation = runtime.Simulation;
        bool contention = runtime.ContentionWanted;
        bool handled = runtime.HandledWanted;

        // Real time with sampled contention timing: only the messages the mailbox stamped are timed, the rest counted.
        bool timed = handled || runtime.TimesContentionOf(sentAtNs);
        long startNs = 0;
        int stamps = 0;
        if (simulation is not null)
        {
            startNs = runtime.VirtualTime!.NowNanoseconds;
            HandlingStartNs = startNs;
            simulation.Begin(message, _self);
        }
        else if (timed)
        {
            startNs = runtime.Clock.NowNanoseconds;
            stamps = TracingMessageQueue.StampsOnThisThread;
        }

        Correlation.Current = correlation;
        try
        {
            // The log and trace see the handling's start; from here on the clock adds the handler's cost so far, so
            // what it sends leaves at the virtual time its work would have taken.
            runtime.Delivered(new Delivery(message, Sender, correlation, sentAtNs, simulation is null && timed ? startNs : Delivery.NoSendTime), _self);
            if (simulation is not null)
            {
                runtime.BeginHandling(message, _self);
            }

            return ReceiveDirect(message) || base.AroundReceive(receive, message);
        }
        finally
        {
            Correlation.Current = 0;
            if (simulation is not null)
            {
                long cost = simulation.Elapsed(message, _self);
                runtime.EndHandling();
                if (_queue is not null)
                {
                    _queue.BusyUntilNs = startNs + cost;
                }

                if (handled)
                {
                    runtime.Handled(_self, cost);
                }

                if (contention)
                {
                    long arrival = sentAtNs < 0 ? -1 : sentAtNs + simulation.TransitNanoseconds;
                    Record(runtime, arrival < 0 ? -1 : Math.Max(0, startNs - arrival), startNs, cost, queued);
                }
            }
            else if (timed)
            {
                // A handler that sent ended at its last send's stamp, give or take the few instructions after it.
                long endNs = TracingMessageQueue.LastStampSinceOrNow(stamps, runtime.Clock);
                if (handled)
                {
                    runtime.Handled(_self, endNs - startNs);
                }

                if (contention)
                {
                    Record(runtime, sentAtNs < 0 ? -1 : Math.Max(0, startNs - sentAtNs), startNs, endNs - startNs, queued);
                }
            }
            else if (contention)
            {
                ContentionRecord(runtime).Count();
            }
        }
    }

    private void Record(TdxRuntime runtime, long waitNs, long startNs, long busyNs, int queued) =>
        ContentionRecord(runtime).Record(waitNs, startNs, busyNs, queued);

    private ActorContention ContentionRecord(TdxRuntime runtime)
    {
        if (_contention is { } known)
        {
            return known;
        }

        ActorContention record = _contention = _queue?.Contention ?? runtime.Track(_self);
        if (_queue is not null)
        {
            _queue.Contention = record;
        }

        return record;
    }
}
