using System.Diagnostics;
using System.Runtime.CompilerServices;
using Akka.Actor;
using TdxSim.Runtime.Time;
using TdxSim.Runtime.Tracing;
using TdxSim.Machine.Logging.Trace;

namespace TdxSim.Machine.Logging;

/// <summary>
/// The message log's delivery hook (contract sections 6 and 7). Register it with the actor system as an
/// <see cref="IDeliveryObserver"/>: every delivery gets the next global sequence number and a clock reading
/// under one short lock, and the record (a struct holding references, no allocation) goes into a bounded ring.
/// A dedicated writer thread drains the ring in sequence order and hands each record to every sink.
/// </summary>
/// <remarks>
/// <para>Nothing is dropped: when the ring is full the delivering thread waits for the writer (backpressure),
/// so a slow disk slows the machine down instead of losing records. Sink failures (an I/O error) are counted per
/// sink and reported by <see cref="Complete"/>.</para>
/// <para>Taking the sequence number, the time and the ring slot under the same lock, and raising a time that would
/// fall behind the previous record's (a handling's start is read before the lock, maybe on another thread), makes the
/// file order, the <c>seq</c> order and the <c>t_ns</c> order agree even when several dispatcher threads deliver at
/// once.</para>
/// </remarks>
public sealed class MessageRecorder : IDeliveryObserver, IDisposable, IAsyncDisposable
{
    private const int BatchSize = 1024;

    // The writer naps 1 ms at a time while records trickle in and producers wake it only once a batch has
    // accumulated, so a delivery almost never pays for a futex wake-up. After this many empty naps in a row it
    // sleeps until the next delivery wakes it, so an idle run costs no CPU.
    private const int NapMilliseconds = 1;
    private const int IdleNapsBeforeFlush = 2;
    private static readonly long FlushIntervalTicks = Stopwatch.Frequency / 200;
    private const int NapsBeforeDeepSleep = 64;

    private readonly Lock _completeGate = new();
    // The state marked "guarded" is guarded by a spin lock released with a plain store, not by a Monitor: a
    // Monitor's exit is an interlocked operation, a full fence, so each delivery waited there for its own ring slot's
    // stores, which miss (the writer, on the other core, read that cache line on the ring's previous round). A plain
    // release lets those stores drain while the handler runs. Waits (the writer's naps, a producer's backpressure)
    // go to events, outside the lock.
    private int _lock;
    private readonly ManualResetEventSlim _writerWake = new(false, spinCount: 0);
    private readonly ManualResetEventSlim _spaceFreed = new(false);
    private IClock _clock;

    // The t_ns of the last record taken (under the lock).
    private long _lastAt = long.MinValue;

    // True once the clock was given (constructor or Clock): only then is it known to be the clock that stamped
    // the envelopes' send times, so only then do sinks get them.
    private bool _clockAttached;
    private bool _clockIsRuntimeClock;
    private readonly MessageLogSink[] _sinks;
    private readonly PendingRecord[] _ring;

    // With service times: per ring slot, the handler's duration and whether it has returned (1). Written lock-free by
    // the handling thread (OnHandled), read by the writer, which takes a slot only once it is done.
    private readonly bool _serviceTimes;
    private readonly long[] _service;
    private readonly int[] _done;

    // The slot this thread's last OnDelivered filled, for its OnHandled (a handler is not re-entered on its thread).
    [ThreadStatic]
    private static MessageRecorder? t_owner;
    [ThreadStatic]
    private static int t_slot;
    private readonly TimeSpan _completionTimeout;
    private readonly Thread _writer;
    private readonly int _wakeThreshold;

    // Guarded by _lock.
    private int _head;
    private int _count;
    private long _seq;
    private bool _closing;
    private bool _consumerNapping;
    private bool _consumerSleeping;
    private int _producersWaiting;
    private long _late;
    private long _waits;

    private long _deadLetters;
    private long _dispatched;
    private MessageLogReport? _report;

    /// <summary>
    /// Creates a recorder writing to <paramref name="sinks"/> whose clock is set later through <see cref="Clock"/>
    /// (until then, a monotonic clock started now); starts its writer thread.
    /// </summary>
    public MessageRecorder(IEnumerable<MessageLogSink> sinks, MessageRecorderOptions? options = null)
        : this(new MonotonicClock(), attached: false, sinks, options)
    {
    }

    /// <summary>Creates a recorder reading <paramref name="clock"/> and writing to <paramref name="sinks"/>; starts its writer thread.</summary>
    /// <param name="clock">The actor system's clock (virtual in deterministic mode).</param>
    /// <param name="sinks">Destinations; the recorder owns them and completes them in <see cref="Complete"/>.</param>
    /// <param name="options">Capacity, actor-name root and completion timeout.</param>
    public MessageRecorder(IClock clock, IEnumerable<MessageLogSink> sinks, MessageRecorderOptions? options = null)
        : this(clock, attached: true, sinks, options)
    {
    }

    private MessageRecorder(IClock clock, bool attached, IEnumerable<MessageLogSink> sinks, MessageRecorderOptions? options)
    {
        ArgumentNullException.ThrowIfNull(clock);
        ArgumentNullException.ThrowIfNull(sinks);
        options ??= MessageRecorderOptions.Default;
        if (options.Capacity < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(options), options.Capacity, "The message log queue capacity must be at least 1.");
        }

        _clock = clock;
        _clockAttached = attached;
        _sinks = [.. sinks];
        if (_sinks.Any(s => s is null))
        {
            throw new ArgumentException("A message log sink is null.", nameof(sinks));
        }

        _ring = new PendingRecord[options.Capacity];
        _serviceTimes = options.ServiceTimes;
        _service = _serviceTimes ? new long[options.Capacity] : [];
        _done = _serviceTimes ? new int[options.Capacity] : [];
        _wakeThreshold = Math.Clamp(options.Capacity / 2, 1, BatchSize);
        _completionTimeout = options.CompletionTimeout;
        Namer = new ActorNamer(options.RootPath);
        _writer = new Thread(WriterLoop) { IsBackground = true, Name = "tdxsim message log writer" };
        _writer.Start();
    }

    /// <summary>
    /// Convenience for <c>tdxsim run --log PATH --trace PATH</c>: a recorder with a JSON Lines sink and/or a
    /// Chrome trace sink (either path may be null). Files are created (truncated) now, so a bad path fails
    /// before the guest starts.
    /// </summary>
    /// <exception cref="IOException">A file cannot be created; the message names it.</exception>
    /// <exception cref="UnauthorizedAccessException">A file cannot be created; the message names it.</exception>
    public static MessageRecorder Create(IClock clock, string? logPath, string? tracePath, MessageRecorderOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(clock);
        MessageRecorder recorder = Create(logPath, tracePath, options);
        recorder.Clock = clock;
        return recorder;
    }

    /// <summary>As <see cref="Create(IClock, string?, string?, MessageRecorderOptions?)"/>, with the clock set later through <see cref="Clock"/>.</summary>
    /// <exception cref="IOException">A file cannot be created; the message names it.</exception>
    /// <exception cref="UnauthorizedAccessException">A file cannot be created; the message names it.</exception>
    public static MessageRecorder Create(string? logPath, string? tracePath, MessageRecorderOptions? options = null)
    {
        var sinks = new List<MessageLogSink>();
        try
        {
            if (logPath is not null)
            {
                sinks.Add(JsonLinesLogSink.Create(logPath));
            }

            if (tracePath is not null)
            {
                sinks.Add(ChromeTraceLogSink.Create(tracePath));
            }
        }
        catch
        {
            foreach (MessageLogSink sink in sinks)
            {
                sink.Dispose();
            }

            throw;
        }

        return new MessageRecorder(sinks, options);
    }

    /// <summary>
    /// The clock that stamps <c>t_ns</c>: set it to the actor system's <see cref="TdxSim.Runtime.TdxRuntime.Clock"/> (virtual time in
    /// deterministic mode, so the log replays byte for byte) after creating the system and before it delivers
    /// anything. Thread-safe.
    /// </summary>
    /// <exception cref="InvalidOperationException">Set after messages were recorded: one log must use one timeline.</exception>
    public IClock Clock
    {
        get
        {
            using (Hold())
            {
                return _clock;
            }
        }

        set => AttachClock(value, isRuntimeClock: false);
    }

    /// <summary>
    /// Sets <see cref="Clock"/> to the runtime's own clock (<c>TdxRuntime.Clock</c>), whose reading the runtime
    /// already took at each handling's start in real-time runs (<see cref="Delivery.StartNs"/>): the recorder then
    /// stamps <c>t_ns</c> with it instead of reading the clock a second time.
    /// </summary>
    public void UseRuntimeClock(IClock runtimeClock) => AttachClock(runtimeClock, isRuntimeClock: true);

    private void AttachClock(IClock value, bool isRuntimeClock)
    {
        ArgumentNullException.ThrowIfNull(value);
        using (Hold())
        {
            if (_seq > 0 && !ReferenceEquals(value, _clock))
            {
                throw new InvalidOperationException($"The message log's clock cannot change after {_seq} messages were recorded on the old one.");
            }

            _clock = value;
            _clockAttached = true;
            _clockIsRuntimeClock = isRuntimeClock;
        }
    }

    /// <summary>How actor names are derived.</summary>
    public ActorNamer Namer { get; }

    /// <summary>The sinks, in the order records are handed to them.</summary>
    public IReadOnlyList<MessageLogSink> Sinks => _sinks;

    /// <summary>Messages recorded so far (the last sequence number handed out).</summary>
    public long Recorded
    {
        get
        {
            using (Hold())
            {
                return _seq;
            }
        }
    }

    /// <summary>True once <see cref="Complete"/> has begun: later deliveries are counted as late, not recorded.</summary>
    public bool IsClosed
    {
        get
        {
            using (Hold())
            {
                return _closing;
            }
        }
    }

    /// <summary>Dead letters seen so far.</summary>
    public long DeadLetters => Interlocked.Read(ref _deadLetters);

    /// <summary>
    /// Waits until every message recorded so far has been handed to the sinks (not necessarily flushed), for
    /// benchmarks and tests that need the writer to have caught up.
    /// </summary>
    /// <returns>False when <paramref name="timeout"/> expired first.</returns>
    public bool WaitForWriter(TimeSpan timeout)
    {
        long target = Recorded;
        long deadline = Environment.TickCount64 + (long)timeout.TotalMilliseconds;
        var spinner = default(SpinWait);
        while (Interlocked.Read(ref _dispatched) < target)
        {
            if (Environment.TickCount64 > deadline)
            {
                return false;
            }

            spinner.SpinOnce();
        }

        return true;
    }

    /// <inheritdoc/>
    public bool WantsHandled => _serviceTimes;

    /// <inheritdoc/>
    public void OnHandled(IActorRef recipient, long serviceNs)
    {
        if (!_serviceTimes || !ReferenceEquals(t_owner, this))
        {
            return;
        }

        t_owner = null;
        int slot = t_slot;
        _service[slot] = serviceNs;
        Volatile.Write(ref _done[slot], 1);
    }

    /// <inheritdoc/>
    public void OnDelivered(in Delivery envelope, IActorRef recipient)
    {
        bool wakeWriter = false;
        using (Hold())
        {
            while (_count == _ring.Length && !_closing)
            {
                // Full: wait for the writer to free slots (it sets the event after freeing them and seeing this
                // producer waiting, both under the lock).
                _waits++;
                _producersWaiting++;
                try
                {
                    WaitUnlocked(_spaceFreed, Timeout.Infinite);
                }
                finally
                {
                    _producersWaiting--;
                }
            }

            if (_closing)
            {
                _late++;
                return;
            }

            int slot = _head + _count;
            if (slot >= _ring.Length)
            {
                slot -= _ring.Length;
            }

            // A stamp never falls behind the one before it: the handling's start was read before this lock, on another
            // thread maybe, and an RDTSC is not ordered with the lock's acquisition either; so t_ns follows seq.
            long at = _clockIsRuntimeClock && envelope.StartNs >= 0 ? envelope.StartNs : _clock.NowNanoseconds;
            if (at < _lastAt)
            {
                at = _lastAt;
            }

            _lastAt = at;
            _ring[slot] = new PendingRecord(++_seq, at, envelope.Message, envelope.Sender, recipient, envelope.CorrelationId, envelope.SentAtNs);
            _count++;
            if (_serviceTimes)
            {
                _service[slot] = -1;
                Volatile.Write(ref _done[slot], 0);
                t_owner = this;
                t_slot = slot;
            }

            if (_consumerSleeping || (_consumerNapping && _count >= _wakeThreshold))
            {
                _consumerSleeping = false;
                _consumerNapping = false;
                wakeWriter = true;
            }
        }

        if (wakeWriter)
        {
            _writerWake.Set();
        }
    }

    /// <inheritdoc/>
    /// <remarks>Counted only: the log's rows are deliveries (contract section 6), and a dead letter was not delivered.</remarks>
    public void OnUndelivered(in Delivery delivery, IActorRef recipient, UndeliveredReason reason) => Interlocked.Increment(ref _deadLetters);

    /// <summary>
    /// Stops recording (later deliveries are counted as <see cref="MessageLogReport.Late"/>), waits for the writer
    /// to drain the queue (up to <see cref="MessageRecorderOptions.CompletionTimeout"/>), completes every sink
    /// (closing the trace's JSON, flushing and closing files) and reports what was written and lost. Idempotent.
    /// Call it after the actor system has stopped delivering.
    /// </summary>
    public MessageLogReport Complete()
    {
        lock (_completeGate)
        {
            if (_report is not null)
            {
                return _report;
            }

            using (Hold())
            {
                _closing = true;
            }

            _writerWake.Set();
            _spaceFreed.Set();

            long unwritten = 0;
            if (!_writer.Join(_completionTimeout))
            {
                using (Hold())
                {
                    // Queued records plus the writer's batch in hand: none is known to have reached the sinks.
                    unwritten = _seq - Interlocked.Read(ref _dispatched);
                }
            }

            long recorded, late, waits;
            using (Hold())
            {
                recorded = _seq;
                late = _late;
                waits = _waits;
            }

            _report = new MessageLogReport(recorded, late, unwritten, DeadLetters, waits, [.. _sinks.Select(s => s.Report)]);
            return _report;
        }
    }

    /// <summary>Same as <see cref="Complete"/>.</summary>
    public void Dispose() => Complete();

    /// <summary>Same as <see cref="Complete"/>.</summary>
    public ValueTask DisposeAsync()
    {
        Complete();
        return ValueTask.CompletedTask;
    }

    private void WriterLoop()
    {
        int capacity = _ring.Length;
        int batchLimit = Math.Min(BatchSize, capacity);
        int emptyNaps = 0;
        bool unflushed = false;
        long lastFlush = Stopwatch.GetTimestamp();
        while (true)
        {
            int taken;
            int start;
            bool closing;
            bool sendTimesValid;
            bool idleFlush = false;
            using (Hold())
            {
                while ((_count == 0 || !HeadDone()) && !_closing)
                {
                    // Idle for a couple of naps with records still buffered: write them out (a reader following the
                    // log sees them within about two milliseconds of the last delivery).
                    if (unflushed && emptyNaps >= IdleNapsBeforeFlush)
                    {
                        idleFlush = true;
                        break;
                    }

                    // A nap, or (idle long enough, nothing queued) a sleep until a delivery wakes it.
                    bool nap = emptyNaps < NapsBeforeDeepSleep || _count > 0;
                    _consumerNapping = nap;
                    _consumerSleeping = !nap;
                    try
                    {
                        WaitUnlocked(_writerWake, nap ? NapMilliseconds : Timeout.Infinite);
                    }
                    finally
                    {
                        _consumerNapping = false;
                        _consumerSleeping = false;
                    }

                    if (nap)
                    {
                        emptyNaps++;
                    }
                }

                // Only the bounds are taken under the lock: the slots [start, start + taken) stay the writer's until
                // it releases them below (producers fill only free slots), so producers never wait for the writer
                // to copy or format a batch.
                start = _head;
                taken = idleFlush ? 0 : Math.Min(_count, batchLimit);
                closing = _closing;
                sendTimesValid = _clockAttached;
            }

            if (idleFlush)
            {
                FlushSinks();
                unflushed = false;
                lastFlush = Stopwatch.GetTimestamp();
                continue;
            }

            emptyNaps = 0;
            int done = 0;
            int slot = start;
            for (; done < taken; done++)
            {
                long serviceNs = -1;
                if (_serviceTimes)
                {
                    // Only records whose handler has returned, in order (at the end, all: their service is unknown).
                    if (Volatile.Read(ref _done[slot]) != 0)
                    {
                        serviceNs = _service[slot];
                    }
                    else if (!closing)
                    {
                        break;
                    }
                }

                Dispatch(in _ring[slot], sendTimesValid, serviceNs);

                // Let the message go now: a slot that held it until the producers came round the ring again kept the
                // last `capacity` messages alive through every collection, which then promoted them (see Capacity).
                _ring[slot] = default;
                if (++slot == capacity)
                {
                    slot = 0;
                }
            }

            bool drained;
            bool freed;
            using (Hold())
            {
                _head = slot;
                _count -= done;
                drained = _count == 0;
                closing = _closing;
                freed = done > 0 && _producersWaiting > 0;
            }

            if (freed)
            {
                _spaceFreed.Set();
            }

            Interlocked.Add(ref _dispatched, done);
            unflushed |= done > 0;

            // Written out when the queue drains, but at most every FlushInterval while records keep coming: a fast
            // writer drains its queue thousands of times a second, and a write system call for each costs more than
            // the records it carries. The idle flush above covers the end of a burst.
            if (closing || (drained && unflushed && Stopwatch.GetTimestamp() - lastFlush >= FlushIntervalTicks))
            {
                FlushSinks();
                unflushed = false;
                lastFlush = Stopwatch.GetTimestamp();
            }

            if (drained && closing)
            {
                break;
            }
        }

        foreach (MessageLogSink sink in _sinks)
        {
            sink.Complete();
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void Enter()
    {
        if (Interlocked.CompareExchange(ref _lock, 1, 0) != 0)
        {
            EnterContended();
        }
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void EnterContended()
    {
        var spin = default(SpinWait);
        do
        {
            spin.SpinOnce();
        }
        while (Volatile.Read(ref _lock) != 0 || Interlocked.CompareExchange(ref _lock, 1, 0) != 0);
    }

    /// <summary>Releases the lock: a plain (release) store, no fence (see <see cref="_lock"/>).</summary>
    private void Exit() => Volatile.Write(ref _lock, 0);

    /// <summary>
    /// Called holding the lock: resets <paramref name="signal"/>, releases the lock, waits for the signal (or the
    /// timeout) and takes the lock again. The reset comes before the release, so a Set by a thread that changes the
    /// state in its own later turn of the lock cannot be lost.
    /// </summary>
    private void WaitUnlocked(ManualResetEventSlim signal, int timeoutMilliseconds)
    {
        signal.Reset();
        Exit();
        try
        {
            signal.Wait(timeoutMilliseconds);
        }
        finally
        {
            Enter();
        }
    }

    private Held Hold()
    {
        Enter();
        return new Held(this);
    }

    /// <summary>The lock for a <c>using</c> block.</summary>
    private readonly ref struct Held(MessageRecorder owner)
    {
        public void Dispose() => owner.Exit();
    }

    private void FlushSinks()
    {
        foreach (MessageLogSink sink in _sinks)
        {
            sink.Flush();
        }
    }

    private bool HeadDone() => !_serviceTimes || Volatile.Read(ref _done[_head]) != 0;

    private void Dispatch(in PendingRecord pending, bool sendTimeValid, long serviceNs)
    {
        var record = new MessageRecord(
            pending.Seq,
            pending.TimeNs,
            pending.Message,
            pending.Sender is null ? null : Namer.LabelOfSingleThreaded(pending.Sender),
            Namer.LabelOfSingleThreaded(pending.Recipient),
            pending.CorrelationId,
            sendTimeValid ? pending.SentAtNs : -1,
            serviceNs);
        foreach (MessageLogSink sink in _sinks)
        {
            sink.Write(in record);
        }
    }

    private readonly record struct PendingRecord(
        long Seq,
        long TimeNs,
        object Message,
        IActorRef? Sender,
        IActorRef Recipient,
        long CorrelationId,
        long SentAtNs);
}
