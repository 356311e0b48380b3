using TdxSim.Actors.Scheduling;

namespace TdxSim.Actors.Tests;

/// <summary>Scheduler in virtual time under the concurrent dispatcher: the test moves the clock.</summary>
public sealed class VirtualTimeSchedulerTests : TestKit.TestKit
{
    public VirtualTimeSchedulerTests()
        : base(new ActorSystemOptions { VirtualTime = true })
    {
    }

    private VirtualTimeScheduler Time => Sys.VirtualTime!;

    [Fact]
    public void ScheduleTellOnce_DeliversOnlyWhenVirtualTimeReachesTheDelay()
    {
        Time.ScheduleTellOnce(TimeSpan.FromSeconds(5), TestActor, "wake", ActorRefs.NoSender);
        Time.Advance(TimeSpan.FromSeconds(4.999));
        ExpectNoMsg();
        Time.Advance(TimeSpan.FromMilliseconds(1));
        ExpectMsg("wake");
        Assert.Equal(5_000_000_000L, LastEnvelope.SentAtNs);
    }

    [Fact]
    public void ScheduleTellRepeatedly_DeliversOncePerInterval()
    {
        Time.ScheduleTellRepeatedly(TimeSpan.FromMilliseconds(100), TimeSpan.FromMilliseconds(50), TestActor, "tick", ActorRefs.NoSender);
        Time.Advance(TimeSpan.FromMilliseconds(260));
        Assert.Equal(["tick", "tick", "tick", "tick"], ReceiveN(4));
        ExpectNoMsg();
    }

    [Fact]
    public void Cancel_BeforeDue_NothingIsDelivered()
    {
        ICancelable timer = Time.ScheduleTellOnce(TimeSpan.FromSeconds(1), TestActor, "never", ActorRefs.NoSender);
        timer.Cancel();
        Assert.True(timer.IsCancellationRequested);
        Time.Advance(TimeSpan.FromSeconds(2));
        ExpectNoMsg();
    }

    [Fact]
    public void SameDueTime_FiresInSchedulingOrder()
    {
        for (int i = 0; i < 20; i++)
        {
            Time.ScheduleTellOnce(TimeSpan.FromSeconds(1), TestActor, i, ActorRefs.NoSender);
        }

        Time.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(Enumerable.Range(0, 20).Cast<object>(), ReceiveN(20));
    }

    [Fact]
    public void ScheduledFromHandler_KeepsTheHandlersCorrelationId()
    {
        IActorRef scheduler = Sys.ActorOf(Props.Create(() => new DelayedReplyActor()), "delayed");
        scheduler.Tell("later", TestActor, 4242);
        AwaitCondition(() => Time.NextDueNanoseconds is not null);
        Time.Advance(TimeSpan.FromSeconds(1));
        ExpectMsg("later");
        Assert.Equal(4242, LastEnvelope.CorrelationId);
    }

    [Fact]
    public void InvalidArguments_AreRejected()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => Time.ScheduleTellOnce(TimeSpan.FromSeconds(-1), TestActor, "x", null));
        Assert.Throws<ArgumentOutOfRangeException>(() => Time.ScheduleTellRepeatedly(TimeSpan.Zero, TimeSpan.Zero, TestActor, "x", null));
        Assert.Throws<ArgumentNullException>(() => Time.ScheduleTellOnce(TimeSpan.Zero, null!, "x", null));
        Assert.Throws<ArgumentOutOfRangeException>(() => Time.AdvanceTo(-1));
    }

    [Fact]
    public void AskTimeout_UsesVirtualTime()
    {
        IActorRef silent = Sys.ActorOf(Props.Create<CounterActor>(), "silent");
        Task<int> reply = silent.Ask<int>("?", TimeSpan.FromSeconds(3));
        AwaitCondition(() => Time.NextDueNanoseconds is not null);
        Assert.False(reply.IsCompleted);
        Time.Advance(TimeSpan.FromSeconds(3));
        Assert.Throws<AskTimeoutException>(() => AwaitResult(reply));
    }

    [Fact]
    public void RetryWindow_IsMeasuredWithTheSystemClock_AndResetsWhenItExpires()
    {
        var strategy = new Supervision.OneForOneStrategy(1, TimeSpan.FromSeconds(10), _ => Supervision.Directive.Restart);
        IActorRef parent = Sys.ActorOf(Props.Create(() => new ParentActor(Props.Create<CounterActor>(), "counter", TestActor)).WithSupervisorStrategy(strategy), "parent");
        IActorRef child = ExpectMsg<IActorRef>();
        Watch(child);

        parent.Tell(new Fail("first"), ActorRefs.NoSender);
        AssertAlive(parent);
        Time.Advance(TimeSpan.FromSeconds(11));
        parent.Tell(new Fail("outside the window"), ActorRefs.NoSender);
        AssertAlive(parent);
        parent.Tell(new Fail("second within the window"), ActorRefs.NoSender);
        Assert.Equal(child, ExpectMsg<Terminated>().ActorRef);
    }

    private void AssertAlive(IActorRef parent)
    {
        parent.Tell("x", ActorRefs.NoSender);
        parent.Tell(new GetState(), TestActor);
        Assert.Equal(1, ExpectMsg<int>());
    }

    private sealed class DelayedReplyActor : ReceiveActor
    {
        public DelayedReplyActor() => Receive<string>(s => Context.System.Scheduler.ScheduleTellOnce(TimeSpan.FromSeconds(1), Sender, s, Self));
    }
}

/// <summary>Scheduler in real time.</summary>
public sealed class RealTimeSchedulerTests : TestKit.TestKit
{
    [Fact]
    public void ScheduleTellOnce_DeliversAfterTheDelay()
    {
        var watch = System.Diagnostics.Stopwatch.StartNew();
        Sys.Scheduler.ScheduleTellOnce(TimeSpan.FromMilliseconds(60), TestActor, "ding", ActorRefs.NoSender);
        ExpectMsg("ding");
        Assert.True(watch.Elapsed >= TimeSpan.FromMilliseconds(55), $"fired after {watch.Elapsed}");
    }

    [Fact]
    public void ScheduleTellRepeatedly_KeepsFiringUntilCancelled()
    {
        ICancelable timer = Sys.Scheduler.ScheduleTellRepeatedly(TimeSpan.Zero, TimeSpan.FromMilliseconds(10), TestActor, "tick", ActorRefs.NoSender);
        ReceiveN(3);
        timer.Cancel();
        // Ticks fired before Cancel may still be queued (on a loaded machine the test thread can fall several
        // periods behind the timer), so drain them; a timer still running would keep the drain busy past its
        // 50 ms idle window at one tick per 10 ms, and then show up in the silent period below.
        IReadOnlyList<string> queued = ReceiveWhile<string>(_ => true, idle: TimeSpan.FromMilliseconds(50));
        Assert.True(queued.Count < 100, $"{queued.Count} ticks after Cancel");
        ExpectNoMsg(TimeSpan.FromMilliseconds(150));
    }

    [Fact]
    public void Clock_IsMonotonic()
    {
        long previous = Sys.Clock.NowNanoseconds;
        for (int i = 0; i < 1000; i++)
        {
            long now = Sys.Clock.NowNanoseconds;
            Assert.True(now >= previous);
            previous = now;
        }
    }

    [Fact]
    public async Task AfterTermination_SchedulingThrows()
    {
        await Sys.Terminate().WaitAsync(TimeSpan.FromSeconds(5));
        var error = Assert.Throws<InvalidOperationException>(() => Sys.Scheduler.ScheduleTellOnce(TimeSpan.FromSeconds(1), TestActor, "x", null));
        Assert.Contains("shut down", error.Message, StringComparison.Ordinal);
    }
}
