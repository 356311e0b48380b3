using System.Runtime.CompilerServices;
using Akka.Actor;
using Akka.Actor.Internal;
using Akka.Dispatch;

namespace TdxSim.Runtime.Dispatch;

/// <summary>
/// Runs an Akka mailbox the way <see cref="Mailbox.Run"/> does (Akka.NET 1.5.75), except that it drains the system
/// queue only when it holds something. Akka's run drains it before the first message and after every message, and a
/// drain is a compare-and-swap of the queue's head even when the queue is empty: two lock-prefixed instructions per
/// delivery, which on a #VE round trip of eight deliveries were 7% of the hot thread's time (perf: the samples just
/// after the <c>lock cmpxchg</c> of the runtime's object compare-exchange helper, called from the mailbox run). Here an
/// empty queue is seen by a plain read of it (Akka's own <c>HasSystemMessages</c>), and the drain itself is Akka's.
/// </summary>
/// <remarks>
/// <para>
/// Same semantics: system messages go first, before the first message and between messages; the run takes at most
/// the dispatcher's throughput (plus one, as Akka's loop does); the current-cell keeper is set around it; the mailbox
/// goes idle and is rescheduled if work arrived, whatever happened. A system message enqueued while the run reads the
/// queue is found by the next read, or by the reschedule check after the run (which Akka also relies on: the sender
/// schedules the mailbox after it enqueues, and the run's end makes it idle with a full fence before it looks again).
/// </para>
/// <para>
/// Akka's members it needs are internal or private, so they are reached through <see cref="UnsafeAccessorAttribute"/>
/// accessors, bound when first called. <see cref="Available"/> tries them once; if this Akka lacks one (another
/// version), or the dispatcher has a throughput deadline (which needs Akka's internal clock), mailboxes run through
/// <see cref="Mailbox.Run"/> as before. Tests run both paths over the same actors.
/// </para>
/// </remarks>
public static class MailboxRunner
{
    /// <summary>Whether the accessors bound to this Akka's mailbox (checked once, on first use).</summary>
    public static bool Available { get; } = Probe();

    /// <summary>Set by tests to run every mailbox through Akka's own <see cref="Mailbox.Run"/>.</summary>
    internal static bool ForceAkkaRun { get; set; }

    /// <summary>Runs <paramref name="run"/>: a mailbox by <see cref="RunMailbox"/>, anything else by its own <c>Run</c>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Run(IRunnable run)
    {
        ArgumentNullException.ThrowIfNull(run);
        if (run is Mailbox mailbox && Available && !ForceAkkaRun)
        {
            RunMailbox(mailbox);
            return;
        }

        run.Run();
    }

    /// <summary>One run of <paramref name="mailbox"/>: Akka's <see cref="Mailbox.Run"/> without the empty drains.</summary>
    public static void RunMailbox(Mailbox mailbox)
    {
        ArgumentNullException.ThrowIfNull(mailbox);
        MessageDispatcher dispatcher = mailbox.Dispatcher;
        if (dispatcher.ThroughputDeadlineTime.HasValue)
        {
            mailbox.Run();
            return;
        }

        try
        {
            if (IsClosed(mailbox))
            {
                return;
            }

            ActorCell cell = GetActor(mailbox);
            ActorCell? previous = InternalCurrentActorCellKeeper.Current;
            InternalCurrentActorCellKeeper.Current = cell;
            try
            {
                if (HasSystemMessages(mailbox))
                {
                    ProcessAllSystemMessages(mailbox);
                }

                int left = Math.Max(1, dispatcher.Throughput);
                while (ShouldProcessMessage(mailbox) && TryDequeue(mailbox, out Envelope envelope))
                {
                    cell.Invoke(envelope);
                    if (HasSystemMessages(mailbox))
                    {
                        ProcessAllSystemMessages(mailbox);
                    }

                    if (left > 0)
                    {
                        left--;
                        continue;
                    }

                    break;
                }
            }
            finally
            {
                InternalCurrentActorCellKeeper.Current = previous;
            }
        }
        finally
        {
            SetAsIdle(mailbox);
            RegisterForExecution(dispatcher, mailbox, false, false);
        }
    }

    private static bool Probe()
    {
        var mailbox = new Mailbox(new Akka.Dispatch.MessageQueues.UnboundedMessageQueue());
        try
        {
            // Each accessor binds (or throws MissingMemberException) on its first call. A fresh mailbox has no actor,
            // so the members that use it fail with a null reference, which still proves they bound.
            _ = IsClosed(mailbox);
            _ = ShouldProcessMessage(mailbox);
            _ = HasSystemMessages(mailbox);
            _ = TryDequeue(mailbox, out _);
            _ = GetActor(mailbox);
            Try(() => ProcessAllSystemMessages(mailbox));
            Try(() => SetAsIdle(mailbox));
            Try(() => RegisterForExecution(null!, mailbox, false, false));
            return true;
        }
        catch (MissingMemberException)
        {
            return false;
        }

        static void Try(Action action)
        {
            try
            {
                action();
            }
            catch (NullReferenceException)
            {
            }
        }
    }

    [UnsafeAccessor(UnsafeAccessorKind.Method, Name = "IsClosed")]
    private static extern bool IsClosed(Mailbox mailbox);

    [UnsafeAccessor(UnsafeAccessorKind.Method, Name = "ShouldProcessMessage")]
    private static extern bool ShouldProcessMessage(Mailbox mailbox);

    [UnsafeAccessor(UnsafeAccessorKind.Method, Name = "get_HasSystemMessages")]
    private static extern bool HasSystemMessages(Mailbox mailbox);

    [UnsafeAccessor(UnsafeAccessorKind.Method, Name = "TryDequeue")]
    private static extern bool TryDequeue(Mailbox mailbox, out Envelope envelope);

    [UnsafeAccessor(UnsafeAccessorKind.Method, Name = "get_Actor")]
    private static extern ActorCell GetActor(Mailbox mailbox);

    [UnsafeAccessor(UnsafeAccessorKind.Method, Name = "ProcessAllSystemMessages")]
    private static extern void ProcessAllSystemMessages(Mailbox mailbox);

    [UnsafeAccessor(UnsafeAccessorKind.Method, Name = "SetAsIdle")]
    private static extern bool SetAsIdle(Mailbox mailbox);

    [UnsafeAccessor(UnsafeAccessorKind.Method, Name = "RegisterForExecution")]
    private static extern bool RegisterForExecution(MessageDispatcher dispatcher, Mailbox mailbox, bool hasMessageHint, bool hasSystemMessageHint);
}
