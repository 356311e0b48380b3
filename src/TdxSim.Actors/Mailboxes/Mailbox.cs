using System.Threading.Channels;
using TdxSim.Actors.Dispatch;
using TdxSim.Actors.Events;
using TdxSim.Actors.Internal;

namespace TdxSim.Actors.Mailboxes;

/// <summary>
/// One actor's queues and run state. User messages wait in a single-reader
/// <see cref="Channel{T}"/> (written with <c>TryWrite</c>, read with <c>TryRead</c>: no async reader loop);
/// system messages wait in a small locked queue that is always drained first.
/// </summary>
/// <remarks>
/// <para>
/// The status word holds three bits changed only with <see cref="Interlocked"/>: <c>Scheduled</c> (queued on a
/// dispatcher or running), <c>Suspended</c> (failed, awaiting its supervisor, or stopping: user messages
/// wait) and <c>Closed</c> (stopped). Whoever flips <c>Scheduled</c> from 0 to 1 owns the next run, which
/// gives one-message-at-a-time processing; the full fences of those flips order consecutive runs
/// (happens-before between consecutive messages even when they run on different threads).
/// </para>
/// <para>
/// Lost-wake-up freedom: a writer enqueues and then reads the status; a finishing run clears
/// <c>Scheduled</c> (a full fence) and then looks at the queues again. One of the two always sees the
/// other's work, provided the writer's enqueue and its status read are separated by a full fence too:
/// an idle mailbox is claimed with a CAS; a busy-looking one is re-read after an explicit barrier (a lock
/// release inside the channel is only a release fence on ARM64).
/// </para>
/// <para>The mailbox is its own <see cref="IThreadPoolWorkItem"/>, so scheduling it allocates nothing.</para>
/// </remarks>
internal sealed class Mailbox : IThreadPoolWorkItem
{
    private const int Scheduled = 1;
    private const int Suspended = 2;
    private const int Closed = 4;
    private const int NotRunnable = Suspended | Closed;

    private readonly ActorCell _cell;
    private readonly MessageDispatcher _dispatcher;
    private readonly ChannelReader<Envelope> _reader;
    private readonly ChannelWriter<Envelope> _writer;
    private readonly Queue<SystemMessage> _systemQueue = new();
    private readonly MailboxOptions _options;
    private readonly int _throughput;
    private int _status;
    private int _systemCount;
    private bool _systemClosed;

    public Mailbox(ActorCell cell, MessageDispatcher dispatcher, MailboxOptions options, int throughput)
    {
        _cell = cell;
        _dispatcher = dispatcher;
        _options = options;
        _throughput = throughput;
        Channel<Envelope> channel = options.Capacity is int capacity
            ? Channel.CreateBounded<Envelope>(new BoundedChannelOptions(capacity)
            {
                SingleReader = true,
                SingleWriter = false,
                FullMode = BoundedChannelFullMode.Wait,
                AllowSynchronousContinuations = false,
            })
            : Channel.CreateUnbounded<Envelope>(new UnboundedChannelOptions
            {
                SingleReader = true,
                SingleWriter = false,
                AllowSynchronousContinuations = false,
            });
        _reader = channel.Reader;
        _writer = channel.Writer;
    }

    public MessageDispatcher Dispatcher => _dispatcher;

    public ActorCell Cell => _cell;

    /// <summary>True while the mailbox is queued on its dispatcher or running.</summary>
    public bool IsScheduled => (Volatile.Read(ref _status) & Scheduled) != 0;

    /// <summary>Queues a user message and schedules the mailbox if it was idle.</summary>
    public void Post(in Envelope envelope)
    {
        if (_writer.TryWrite(envelope))
        {
            int s = Volatile.Read(ref _status);
            if ((s & Scheduled) != 0)
            {
                // Looks busy: make sure that is still true after our message is visible to the running batch.
                Interlocked.MemoryBarrier();
                s = Volatile.Read(ref _status);
            }

            if ((s & (Scheduled | NotRunnable)) == 0)
            {
                TrySchedule();
            }

            return;
        }

        PostRefused(in envelope);
    }

    /// <summary>
    /// Queues a user message and, if the mailbox was idle, claims the next run for the caller instead of
    /// scheduling it (the inline Ask path). Returns true when the caller must now run the mailbox.
    /// </summary>
    public bool PostAndClaim(in Envelope envelope)
    {
        if (!_writer.TryWrite(envelope))
        {
            PostRefused(in envelope);
            return false;
        }

        // See Post: the message must be visible before we conclude a running batch will pick it up.
        Interlocked.MemoryBarrier();
        int s = Volatile.Read(ref _status);
        while ((s & (Scheduled | NotRunnable)) == 0)
        {
            int seen = Interlocked.CompareExchange(ref _status, s | Scheduled, s);
            if (seen == s)
            {
                return true;
            }

            s = seen;
        }

        return false;
    }

    /// <summary>Queues a system message; after the actor stopped, it is handled on the spot instead.</summary>
    public void PostSystem(SystemMessage message)
    {
        bool accepted;
        lock (_systemQueue)
        {
            accepted = !_systemClosed;
            if (accepted)
            {
                _systemQueue.Enqueue(message);
                Volatile.Write(ref _systemCount, _systemQueue.Count);
            }
        }

        if (!accepted)
        {
            _cell.SystemInvokeAfterDeath(message);
            return;
        }

        Interlocked.MemoryBarrier();
        int s = Volatile.Read(ref _status);
        while ((s & (Scheduled | Closed)) == 0)
        {
            int seen = Interlocked.CompareExchange(ref _status, s | Scheduled, s);
            if (seen == s)
            {
                _dispatcher.Dispatch(this);
                return;
            }

            s = seen;
        }
    }

    /// <summary>Stops user-message processing (failure awaiting a directive, or stopping).</summary>
    public void Suspend() => Interlocked.Or(ref _status, Suspended);

    /// <summary>Lets user messages flow again; the running batch or the release check picks them up.</summary>
    public void Resume() => Interlocked.And(ref _status, ~Suspended);

    /// <summary>
    /// Runs up to the throughput budget of user messages (system messages before each), on the calling
    /// thread. Used by the thread-pool dispatcher and by inline Ask; the caller owns <c>Scheduled</c>.
    /// </summary>
    public void RunBatch()
    {
        try
        {
            if (Volatile.Read(ref _systemCount) != 0)
            {
                ProcessSystemMessages();
            }

            int budget = _throughput;
            while ((Volatile.Read(ref _status) & NotRunnable) == 0 && _reader.TryRead(out Envelope envelope))
            {
                _cell.Invoke(in envelope);
                if (Volatile.Read(ref _systemCount) != 0)
                {
                    ProcessSystemMessages();
                }

                if (--budget == 0)
                {
                    break;
                }

                // An actor told while we ran waits in the hand-off slot for this thread; if we still have
                // work, let another thread take it now instead of serialising the two actors.
                if (ThreadPoolDispatcher.HasHandoff && _reader.TryPeek(out _))
                {
                    ThreadPoolDispatcher.FlushHandoff();
                }
            }
        }
        finally
        {
            if (ReleaseAndReclaim())
            {
                _dispatcher.Reschedule(this);
            }
        }
    }

    /// <summary>
    /// Processes exactly one message, a system message if any is pending, else one user message.
    /// Returns the message processed (a <see cref="SystemMessage"/> or the user message), or null.
    /// </summary>
    public object? ProcessOne(out Envelope envelope)
    {
        envelope = default;
        if (Volatile.Read(ref _systemCount) != 0 && TryDequeueSystem(out SystemMessage? system))
        {
            _cell.SystemInvoke(system);
            return system;
        }

        if ((Volatile.Read(ref _status) & NotRunnable) == 0 && _reader.TryRead(out envelope))
        {
            _cell.Invoke(in envelope);
            return envelope.Message;
        }

        return null;
    }

    /// <summary>True when a run now would process something.</summary>
    public bool HasWork() => HasWork(Volatile.Read(ref _status));

    /// <summary>
    /// Ends a run: clears <c>Scheduled</c>, then re-checks the queues. Returns true when work arrived in
    /// between and this caller re-claimed the mailbox (it must then be rescheduled).
    /// </summary>
    public bool ReleaseAndReclaim()
    {
        int s = Interlocked.And(ref _status, ~Scheduled) & ~Scheduled;
        while (HasWork(s))
        {
            int seen = Interlocked.CompareExchange(ref _status, s | Scheduled, s);
            if (seen == s)
            {
                return true;
            }

            if ((seen & Scheduled) != 0)
            {
                return false;
            }

            s = seen;
        }

        return false;
    }

    /// <summary>
    /// Closes the mailbox for good (the actor stopped): later posts are dead letters, queued user messages
    /// become dead letters now, and queued system messages get their after-death handling.
    /// </summary>
    public void Close()
    {
        Interlocked.Or(ref _status, Closed);
        _writer.TryComplete();
        ActorSystem system = _cell.System;
        IActorRef self = _cell.Self;
        while (_reader.TryRead(out Envelope envelope))
        {
            system.DeadLetter(in envelope, self, DeadLetterReason.RecipientTerminated);
        }

        SystemMessage[] remaining;
        lock (_systemQueue)
        {
            _systemClosed = true;
            remaining = _systemQueue.ToArray();
            _systemQueue.Clear();
            Volatile.Write(ref _systemCount, 0);
        }

        foreach (SystemMessage message in remaining)
        {
            _cell.SystemInvokeAfterDeath(message);
        }
    }

    void IThreadPoolWorkItem.Execute() => ThreadPoolDispatcher.Run(this);

    private bool HasWork(int status)
    {
        if ((status & Closed) != 0)
        {
            return false;
        }

        if (Volatile.Read(ref _systemCount) != 0)
        {
            return true;
        }

        return (status & Suspended) == 0 && _reader.TryPeek(out _);
    }

    private void TrySchedule()
    {
        int s = Volatile.Read(ref _status);
        while ((s & (Scheduled | NotRunnable)) == 0)
        {
            int seen = Interlocked.CompareExchange(ref _status, s | Scheduled, s);
            if (seen == s)
            {
                _dispatcher.Dispatch(this);
                return;
            }

            s = seen;
        }
    }

    private void ProcessSystemMessages()
    {
        while (TryDequeueSystem(out SystemMessage? message))
        {
            _cell.SystemInvoke(message);
        }
    }

    private bool TryDequeueSystem([System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out SystemMessage? message)
    {
        lock (_systemQueue)
        {
            if (_systemQueue.TryDequeue(out message))
            {
                Volatile.Write(ref _systemCount, _systemQueue.Count);
                return true;
            }

            return false;
        }
    }

    private void PostRefused(in Envelope envelope)
    {
        ActorSystem system = _cell.System;
        if ((Volatile.Read(ref _status) & Closed) != 0 || _options.Capacity is null)
        {
            system.DeadLetter(in envelope, _cell.Self, DeadLetterReason.RecipientTerminated);
            return;
        }

        if (_options.PushTimeout > TimeSpan.Zero && CanBlockSender() && WaitForSpaceAndWrite(in envelope))
        {
            return;
        }

        if ((Volatile.Read(ref _status) & Closed) != 0)
        {
            system.DeadLetter(in envelope, _cell.Self, DeadLetterReason.RecipientTerminated);
            return;
        }

        system.Dropped(in envelope, _cell.Self, _options.Capacity.Value);
    }

    /// <summary>Only threads outside every actor and outside the deterministic loop may block on a full mailbox.</summary>
    private bool CanBlockSender() => ActorCell.Current is null && _dispatcher is ThreadPoolDispatcher && !ThreadPoolDispatcher.IsRunningHere;

    private bool WaitForSpaceAndWrite(in Envelope envelope)
    {
        long deadline = Environment.TickCount64 + (long)Math.Ceiling(_options.PushTimeout.TotalMilliseconds);
        while (true)
        {
            long remaining = deadline - Environment.TickCount64;
            if (remaining <= 0)
            {
                return false;
            }

            Task<bool> space = _writer.WaitToWriteAsync().AsTask();
            if (!space.Wait(TimeSpan.FromMilliseconds(remaining)) || !space.Result)
            {
                return false;
            }

            if (_writer.TryWrite(envelope))
            {
                Interlocked.MemoryBarrier();
                if ((Volatile.Read(ref _status) & (Scheduled | NotRunnable)) == 0)
                {
                    TrySchedule();
                }

                return true;
            }
        }
    }
}
