using System.Collections.Concurrent;
using Akka.Actor;
using Akka.Configuration;
using Akka.Dispatch;
using Akka.Dispatch.MessageQueues;

using TdxSim.Runtime.Time;

namespace TdxSim.Runtime.Tracing;

/// <summary>
/// The default mailbox of a TdxSim actor system (<c>akka.actor.default-mailbox</c>): an unbounded queue that records,
/// beside each envelope, the correlation id and the send time of the message, and hands them to the
/// <see cref="TdxActor"/> that dequeues it. Allocation-free per message (the queue's segments are reused).
/// </summary>
public sealed class TracingMailbox : MailboxType, IProducesMessageQueue<TracingMessageQueue>
{
    /// <summary>Created by Akka from the mailbox configuration.</summary>
    public TracingMailbox(Settings settings, Config config)
        : base(settings, config)
    {
    }

    /// <inheritdoc/>
    public override IMessageQueue Create(IActorRef owner, ActorSystem system) => new TracingMessageQueue(system);
}

/// <summary>The queue of <see cref="TracingMailbox"/>.</summary>
public sealed class TracingMessageQueue : IMessageQueue, IUnboundedMessageQueueSemantics
{
    // The send time this thread stamped last, and how many it has stamped: a handler whose last act is a send (a
    // vCPU's exit, the module's reply) ends within nanoseconds of that stamp, so its end reuses it instead of reading
    // the clock once more (a clock read is 10-25 ns here, and a #VE round trip has eight handlings).
    [ThreadStatic]
    private static long t_lastStampNs;

    [ThreadStatic]
    private static int t_stamps;

    private readonly ConcurrentQueue<Item> _queue = new();
    private readonly ActorSystem _system;
    private TdxRuntime? _runtime;

    // What TryDequeue knew about the message it returned last. The queue has one consumer, its actor, which reads
    // these in AroundReceive on the same thread right after the mailbox dequeued the message.
    private object? _lastMessage;
    private long _lastCorrelation;
    private long _lastSentNs;
    private int _lastQueued;
    private bool _yield;

    // Sampled contention timing: enqueues left until the next one is stamped. Senders on several threads may race on
    // it (a plain decrement): a lost update only moves the next sample by a message.
    private int _untilSample;

    internal TracingMessageQueue(ActorSystem system) => _system = system;

    /// <inheritdoc/>
    public bool HasMessages => !_queue.IsEmpty;

    /// <inheritdoc/>
    public int Count => _queue.Count;

    /// <summary>
    /// In the deterministic mode's discrete-event simulation, the virtual time the actor's last handling ended: the
    /// next cannot start before it. Written and read only on the deterministic dispatcher's thread.
    /// </summary>
    internal long BusyUntilNs { get; set; }

    /// <summary>
    /// Messages the current mailbox run may still take, or -1 for no limit. The deterministic dispatcher sets it
    /// before each run, so a pick handles exactly its throughput whatever Akka's mailbox loop does, and the next
    /// message waits for a pick at its own start time (this actor's busy-until).
    /// </summary>
    internal int RunQuota { get; set; } = -1;

    /// <summary>
    /// Ends the current mailbox run after the message being handled, whatever the dispatcher's throughput: the
    /// messages still queued (the handler's own next step) wait for the mailbox's next turn. Only the owning actor,
    /// on its own thread, calls it.
    /// </summary>
    internal void YieldAfterThisMessage() => _yield = true;

    /// <summary>The actor's contention record, once its first message was handled with contention wanted.</summary>
    internal ActorContention? Contention { get; set; }

    /// <summary>
    /// What the queue knew about the message it dequeued last, if it is <paramref name="message"/>: its correlation,
    /// its send time, and how many messages the queue held when it was taken (itself included; 0 when not counted).
    /// </summary>
    internal bool TryGetLast(object message, out long correlationId, out long sentAtNs, out int queued)
    {
        if (ReferenceEquals(_lastMessage, message))
        {
            correlationId = _lastCorrelation;
            sentAtNs = _lastSentNs;
            queued = _lastQueued;
            _lastMessage = null;
            return true;
        }

        correlationId = 0;
        sentAtNs = Delivery.NoSendTime;
        queued = 0;
        return false;
    }

    /// <summary>The send time of the message at the head of the queue, if there is one.</summary>
    internal bool TryPeekSentAt(out long sentAtNs)
    {
        if (_queue.TryPeek(out Item item))
        {
            sentAtNs = item.SentAtNs;
            return true;
        }

        sentAtNs = Delivery.NoSendTime;
        return false;
    }

    /// <summary>How many send times this thread has stamped so far (compare before and after a handler).</summary>
    internal static int StampsOnThisThread => t_stamps;

    /// <summary>
    /// The send time this thread stamped last if it stamped any since <see cref="StampsOnThisThread"/> read
    /// <paramref name="stampsBefore"/>, else a fresh reading of <paramref name="clock"/> (the clock the stamps came from).
    /// </summary>
    internal static long LastStampSinceOrNow(int stampsBefore, IClock clock) =>
        t_stamps != stampsBefore ? t_lastStampNs : clock.NowNanoseconds;

    /// <inheritdoc/>
    public void Enqueue(IActorRef receiver, Envelope envelope)
    {
        TdxRuntime? runtime = _runtime ??= TdxRuntime.TryGet(_system);
        if (runtime is null)
        {
            _queue.Enqueue(new Item(envelope, 0, Delivery.NoSendTime));
            return;
        }

        // The sender's correlation, if it is a TdxSim actor handling a message (or a scope of Correlation.Begin).
        // A message without one gets its id when a TdxSim actor receives it: ids drawn here would also be drawn for
        // Akka's own actors, from their threads, and a deterministic run would no longer replay its ids.
        long correlation = Correlation.Current;
        long sent = Delivery.NoSendTime;
        if (runtime.SendTimesWanted || (runtime.ContentionStride != 0 && SampleThis(runtime.ContentionStride)))
        {
            sent = runtime.Clock.NowNanoseconds;
            t_lastStampNs = sent;
            t_stamps++;
        }

        _queue.Enqueue(new Item(envelope, correlation, sent));
    }

    /// <summary>Whether this enqueue is the one in <paramref name="stride"/> that sampled contention timing stamps.</summary>
    private bool SampleThis(int stride)
    {
        if (--_untilSample > 0)
        {
            return false;
        }

        _untilSample = stride;
        return true;
    }

    /// <inheritdoc/>
    public bool TryDequeue(out Envelope envelope)
    {
        if (_yield)
        {
            // The handler asked to give up its thread (a vCPU's pause-loop exit): this mailbox run ends here, and
            // the mailbox, still holding messages, goes to the back of the dispatcher's queue.
            _yield = false;
            envelope = default;
            return false;
        }

        if (RunQuota == 0)
        {
            // The deterministic dispatcher allows this many messages per mailbox run: the rest wait for the next pick.
            envelope = default;
            return false;
        }

        if (_queue.TryDequeue(out Item item))
        {
            _lastMessage = item.Envelope.Message;
            _lastCorrelation = item.CorrelationId;
            _lastSentNs = item.SentAtNs;
            // The queue's length only for a message whose handling is timed: ConcurrentQueue.Count takes a snapshot.
            _lastQueued = _runtime is { } runtime && runtime.TimesContentionOf(item.SentAtNs) ? _queue.Count + 1 : 0;
            envelope = item.Envelope;
            if (RunQuota > 0)
            {
                RunQuota--;
            }

            return true;
        }

        envelope = default;
        return false;
    }

    /// <inheritdoc/>
    public void CleanUp(IActorRef owner, IMessageQueue deadletters)
    {
        while (_queue.TryDequeue(out Item item))
        {
            deadletters.Enqueue(owner, item.Envelope);
        }
    }

    private readonly record struct Item(Envelope Envelope, long CorrelationId, long SentAtNs);
}

/// <summary>The correlation id of the message the current thread is handling (0 outside any <see cref="TdxActor"/>).</summary>
public static class Correlation
{
    [ThreadStatic]
    private static long t_current;

    /// <summary>The ambient id: messages sent now inherit it.</summary>
    public static long Current
    {
        get => t_current;
        internal set => t_current = value;
    }

    /// <summary>
    /// Makes <paramref name="correlationId"/> ambient on this thread until the scope is disposed: for code outside any
    /// actor (a test, a host-side driver) that sends on behalf of an existing request.
    /// </summary>
    public static Scope Begin(long correlationId)
    {
        long previous = t_current;
        t_current = correlationId;
        return new Scope(previous);
    }

    /// <summary>Restores the previous ambient id.</summary>
    public readonly struct Scope : IDisposable
    {
        private readonly long _previous;

        internal Scope(long previous) => _previous = previous;

        /// <inheritdoc/>
        public void Dispose() => t_current = _previous;
    }
}
