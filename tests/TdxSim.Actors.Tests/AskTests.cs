using TdxSim.Actors.Events;

namespace TdxSim.Actors.Tests;

public sealed class AskTests : TestKit.TestKit
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(3);

    [Fact]
    public async Task Ask_ReturnsTypedReply()
    {
        IActorRef echo = Sys.ActorOf(Props.Create<EchoActor>(), "echo");
        Pong pong = await echo.Ask<Pong>(new Ping(3), Timeout);
        Assert.Equal(3, pong.Id);
    }

    [Fact]
    public async Task Ask_FromOutsideToIdleActor_CompletesSynchronouslyOnCallingThread()
    {
        IActorRef threadReporter = Sys.ActorOf(Props.Create<ThreadReporterActor>(), "reporter");
        // Let the actor finish starting, so it is idle.
        AwaitResult(threadReporter.Ask<int>("warm-up", Timeout));
        AwaitCondition(() => !IsScheduled(threadReporter));
        int caller = Environment.CurrentManagedThreadId;

        Task<int> task = threadReporter.Ask<int>("which thread?", Timeout);

        Assert.True(task.IsCompletedSuccessfully, "the reply should complete the Ask before it returns");
        Assert.Equal(caller, await task);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-1)]
    [InlineData(-1000)]
    public void Ask_NonPositiveTimeout_ThrowsArgumentOutOfRangeNamingTheRule(int milliseconds)
    {
        IActorRef echo = Sys.ActorOf(Props.Create<EchoActor>(), "echo");
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => { _ = echo.Ask<Pong>(new Ping(1), TimeSpan.FromMilliseconds(milliseconds)); });
        Assert.Equal("timeout", error.ParamName);
        Assert.Contains("positive, finite timeout", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Ask_InfiniteTimeout_ThrowsArgumentOutOfRange()
    {
        IActorRef echo = Sys.ActorOf(Props.Create<EchoActor>(), "echo");
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => { _ = echo.Ask<Pong>(new Ping(1), System.Threading.Timeout.InfiniteTimeSpan); });
        Assert.Contains("infinite", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Ask_NoReply_FaultsWithAskTimeoutExceptionAfterTimeout()
    {
        IActorRef silent = Sys.ActorOf(Props.Create<CounterActor>(), "silent");
        var watch = System.Diagnostics.Stopwatch.StartNew();
        var error = await Assert.ThrowsAsync<AskTimeoutException>(() => silent.Ask<int>("no answer", TimeSpan.FromMilliseconds(150)));
        Assert.True(watch.Elapsed >= TimeSpan.FromMilliseconds(140), $"timed out too early: {watch.Elapsed}");
        Assert.Contains("/user/silent", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Ask_StatusFailureReply_FaultsWithItsCause()
    {
        IActorRef failer = Sys.ActorOf(Props.Create<StatusFailureActor>(), "failer");
        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => failer.Ask<int>("go", Timeout));
        Assert.Equal("refused", error.Message);
    }

    [Fact]
    public async Task Ask_ReplyOfWrongType_FaultsWithInvalidCastNamingTypes()
    {
        IActorRef echo = Sys.ActorOf(Props.Create<EchoActor>(), "echo");
        var error = await Assert.ThrowsAsync<InvalidCastException>(() => echo.Ask<string>(new Ping(1), Timeout));
        Assert.Contains(nameof(Pong), error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Ask_StoppedActor_FailsFastWithoutWaitingForTimeout()
    {
        IActorRef victim = Sys.ActorOf(Props.Create<EchoActor>(), "victim");
        Watch(victim);
        Sys.Stop(victim);
        ExpectMsg<Terminated>();
        var watch = System.Diagnostics.Stopwatch.StartNew();
        var error = await Assert.ThrowsAsync<AskTimeoutException>(() => victim.Ask<Pong>(new Ping(1), TimeSpan.FromSeconds(30)));
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(5));
        Assert.Contains("stopped", error.Message, StringComparison.Ordinal);
        Assert.Equal(1, Sys.DeadLetterCount);
    }

    [Fact]
    public async Task Ask_PendingWhenSystemTerminates_FailsInsteadOfHanging()
    {
        IActorRef silent = Sys.ActorOf(Props.Create<CounterActor>(), "silent");
        Task<int> pending = silent.Ask<int>("no answer", TimeSpan.FromMinutes(5));
        // Make sure the question has been consumed (and ignored) first: a question still queued when the
        // system stops goes to dead letters instead, which fails the Ask with a different reason.
        Assert.Equal(1, await silent.Ask<int>(new GetState(), TimeSpan.FromSeconds(10)));
        await Sys.Terminate();
        var error = await Assert.ThrowsAsync<AskTimeoutException>(() => pending.WaitAsync(TimeSpan.FromSeconds(5)));
        Assert.Contains("terminated", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Ask_QuestionDroppedByFullMailbox_FailsFast()
    {
        IActorRef gate = Sys.ActorOf(Props.Create<BlockingActor>().WithMailbox(Mailboxes.MailboxOptions.Bounded(1)), "gate");
        using var release = new ManualResetEventSlim(false);
        gate.Tell(release, TestActor);
        ExpectMsg("blocked");
        gate.Tell("fills the mailbox", ActorRefs.NoSender);
        var error = await Assert.ThrowsAsync<AskTimeoutException>(() => gate.Ask<string>("dropped", TimeSpan.FromMinutes(1)));
        Assert.Contains("full", error.Message, StringComparison.Ordinal);
        release.Set();
    }

    [Fact]
    public async Task Ask_SecondReply_IsLateAndCountedAsDeadLetter()
    {
        IActorRef twice = Sys.ActorOf(Props.Create<DoubleReplyActor>(), "twice");
        Assert.Equal(1, await twice.Ask<int>("go", Timeout));
        AwaitCondition(() => Sys.DeadLetterCount == 1);
    }

    [Fact]
    public async Task Ask_FromInsideActor_PipeToDeliversResultAsMessage()
    {
        IActorRef echo = Sys.ActorOf(Props.Create<EchoActor>(), "echo");
        IActorRef asker = Sys.ActorOf(Props.Create(() => new AskingActor(echo, TestActor)), "asker");
        asker.Tell("go", ActorRefs.NoSender);
        Assert.Equal(42, ExpectMsg<Pong>().Id);
        await Task.CompletedTask;
    }

    [Fact]
    public async Task Ask_ManyConcurrentCallers_AllGetTheirOwnReply()
    {
        IActorRef echo = Sys.ActorOf(Props.Create<EchoActor>(), "echo");
        Task<Pong>[] asks = Enumerable.Range(0, 2_000).Select(i => Task.Run(() => echo.Ask<Pong>(new Ping(i), Timeout))).ToArray();
        Pong[] replies = await Task.WhenAll(asks);
        Assert.Equal(Enumerable.Range(0, 2_000), replies.Select(p => p.Id));
    }

    [Fact]
    public void Ask_ReplyDelivery_IsSeenByDeliveryObserver()
    {
        var observer = new RecordingObserver();
        Sys.AddDeliveryObserver(observer);
        IActorRef echo = Sys.ActorOf(Props.Create<EchoActor>(), "echo");
        Assert.Equal(5, AwaitResult(echo.Ask<Pong>(new Ping(5), Timeout)).Id);
        Assert.Contains(observer.Delivered, d => d.Message is Ping && d.Recipient == echo);
        Assert.Contains(observer.Delivered, d => d.Message is Pong p && p.Id == 5 && d.Recipient.Path.ToString().StartsWith("/temp/$ask", StringComparison.Ordinal));
    }

    /// <summary>True while the actor's mailbox is queued or running (it is not idle).</summary>
    private static bool IsScheduled(IActorRef actor) => ((Internal.LocalActorRef)actor).Mailbox.IsScheduled;

    private sealed class BlockingActor : ReceiveActor
    {
        public BlockingActor()
        {
            Receive<ManualResetEventSlim>(gate =>
            {
                Sender.Tell("blocked");
                gate.Wait(TimeSpan.FromSeconds(10));
            });
            Receive<string>(_ => { });
        }
    }

    private sealed class ThreadReporterActor : ReceiveActor
    {
        public ThreadReporterActor() => ReceiveAny(_ => Sender.Tell(Environment.CurrentManagedThreadId));
    }

    private sealed class StatusFailureActor : ReceiveActor
    {
        public StatusFailureActor() => ReceiveAny(_ => Sender.Tell(new Status.Failure(new InvalidOperationException("refused"))));
    }

    private sealed class DoubleReplyActor : ReceiveActor
    {
        public DoubleReplyActor() => ReceiveAny(_ =>
        {
            Sender.Tell(1);
            Sender.Tell(2);
        });
    }

    private sealed class AskingActor : ReceiveActor
    {
        public AskingActor(IActorRef echo, IActorRef report)
        {
            Receive<string>(_ => echo.Ask<Pong>(new Ping(42), TimeSpan.FromSeconds(3)).PipeTo(Self));
            Receive<Pong>(p => report.Tell(p));
        }
    }
}

/// <summary>Thread-safe record of what a delivery observer saw.</summary>
internal sealed class RecordingObserver : IDeliveryObserver
{
    private readonly object _gate = new();
    private readonly List<(object Message, IActorRef Recipient, long CorrelationId)> _delivered = [];
    private readonly List<(object Message, IActorRef Recipient, DeadLetterReason Reason)> _dead = [];

    public IReadOnlyList<(object Message, IActorRef Recipient, long CorrelationId)> Delivered
    {
        get
        {
            lock (_gate)
            {
                return [.. _delivered];
            }
        }
    }

    public IReadOnlyList<(object Message, IActorRef Recipient, DeadLetterReason Reason)> DeadLetters
    {
        get
        {
            lock (_gate)
            {
                return [.. _dead];
            }
        }
    }

    public void OnDelivered(in Envelope envelope, IActorRef recipient)
    {
        lock (_gate)
        {
            _delivered.Add((envelope.Message, recipient, envelope.CorrelationId));
        }
    }

    public void OnDeadLetter(in Envelope envelope, IActorRef recipient, DeadLetterReason reason)
    {
        lock (_gate)
        {
            _dead.Add((envelope.Message, recipient, reason));
        }
    }
}
