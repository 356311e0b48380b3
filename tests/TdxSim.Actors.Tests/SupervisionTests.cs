using TdxSim.Actors.Events;
using TdxSim.Actors.Supervision;
using TdxSim.Actors.TestKit;

namespace TdxSim.Actors.Tests;

public sealed class SupervisionTests : TestKit.TestKit
{
    [Fact]
    public void Restart_TopLevelActorWithDefaultStrategy_NewInstanceWithFreshState()
    {
        IActorRef counter = Sys.ActorOf(Props.Create<CounterActor>(), "counter");
        counter.Tell("a", ActorRefs.NoSender);
        counter.Tell("b", ActorRefs.NoSender);
        counter.Tell(new Fail("boom"), ActorRefs.NoSender);
        counter.Tell(new GetState(), TestActor);
        Assert.Equal(0, ExpectMsg<int>());
    }

    [Fact]
    public void Restart_CallsHooksInAkkaOrder_WithTheFailingMessage()
    {
        IActorRef actor = Sys.ActorOf(Props.Create(() => new LifecycleActor(TestActor)), "life");
        ExpectMsg("ctor");
        ExpectMsg("PreStart");
        actor.Tell(new Fail("boom"), ActorRefs.NoSender);
        ExpectMsg("PreRestart boom Fail { Reason = boom }");
        ExpectMsg("PostStop");
        ExpectMsg("ctor");
        ExpectMsg("PostRestart boom");
        ExpectMsg("PreStart");
        ExpectNoMsg();
    }

    [Fact]
    public void Restart_KeepsMailbox_MessagesBehindTheFailureReachTheNewInstance()
    {
        IActorRef actor = Sys.ActorOf(Props.Create(() => new LifecycleActor(TestActor)), "life");
        actor.Tell(new Fail("boom"), ActorRefs.NoSender);
        actor.Tell("after-1", ActorRefs.NoSender);
        actor.Tell("after-2", ActorRefs.NoSender);
        FishForMessage<string>(s => s == "PostRestart boom");
        ExpectMsg("PreStart");
        ExpectMsg("got after-1");
        ExpectMsg("got after-2");
    }

    [Fact]
    public void Failure_PublishesActorFailureWithTheLostMessage()
    {
        Sys.EventStream.Subscribe(TestActor, typeof(ActorFailure));
        IActorRef counter = Sys.ActorOf(Props.Create<CounterActor>(), "counter");
        counter.Tell(new Fail("boom"), ActorRefs.NoSender);
        ActorFailure failure = ExpectMsg<ActorFailure>();
        Assert.Equal(counter, failure.Actor);
        Assert.Equal(new Fail("boom"), failure.Message);
        Assert.Equal("boom", failure.Cause.Message);
        Assert.Equal(1, Sys.FailureCount);
    }

    [Fact]
    public void Resume_KeepsStateAndDropsOnlyTheFailingMessage()
    {
        Props child = Props.Create<CounterActor>();
        IActorRef parent = Sys.ActorOf(
            Props.Create(() => new ParentActor(child, "counter", null)).WithSupervisorStrategy(Strategies.Always(Directive.Resume, TestActor)),
            "parent");
        parent.Tell("a", ActorRefs.NoSender);
        parent.Tell("b", ActorRefs.NoSender);
        parent.Tell(new Fail("boom"), ActorRefs.NoSender);
        ExpectMsg("decide InvalidOperationException: boom");
        parent.Tell("c", ActorRefs.NoSender);
        parent.Tell(new GetState(), TestActor);
        Assert.Equal(3, ExpectMsg<int>());
    }

    [Fact]
    public void Stop_Directive_StopsChildAndLaterMessagesAreDeadLetters()
    {
        IActorRef parent = Sys.ActorOf(
            Props.Create(() => new ParentActor(Props.Create<CounterActor>(), "counter", TestActor)).WithSupervisorStrategy(Strategies.Always(Directive.Stop)),
            "parent");
        IActorRef child = ExpectMsg<IActorRef>();
        Watch(child);
        parent.Tell(new Fail("boom"), ActorRefs.NoSender);
        Assert.Equal(child, ExpectMsg<Terminated>().ActorRef);
        child.Tell("late", ActorRefs.NoSender);
        AwaitCondition(() => Sys.DeadLetterCount == 1);
    }

    [Fact]
    public void RetryLimit_ExceededWithinWindow_StopsChild()
    {
        TestProbe refs = CreateTestProbe("refs");
        IActorRef parent = Sys.ActorOf(
            Props.Create(() => new ParentActor(Props.Create(() => new LifecycleActor(TestActor)), "life", refs.Ref))
                .WithSupervisorStrategy(new OneForOneStrategy(2, TimeSpan.FromMinutes(1), _ => Directive.Restart)),
            "parent");
        IActorRef child = refs.ExpectMsg<IActorRef>();
        Watch(child);
        ExpectMsg("ctor");
        ExpectMsg("PreStart");
        for (int i = 1; i <= 2; i++)
        {
            parent.Tell(new Fail($"f{i}"), ActorRefs.NoSender);
            FishForMessage<string>(s => s == "PreStart");
        }

        parent.Tell(new Fail("f3"), ActorRefs.NoSender);
        FishForMessage<Terminated>(t => t.ActorRef == child);
    }

    [Fact]
    public void RetryLimitZero_StopsOnFirstFailure()
    {
        IActorRef parent = Sys.ActorOf(
            Props.Create(() => new ParentActor(Props.Create<CounterActor>(), "counter", TestActor))
                .WithSupervisorStrategy(new OneForOneStrategy(0, TimeSpan.FromMinutes(1), _ => Directive.Restart)),
            "parent");
        IActorRef child = ExpectMsg<IActorRef>();
        Watch(child);
        parent.Tell(new Fail("once"), ActorRefs.NoSender);
        ExpectMsg<Terminated>();
    }

    [Fact]
    public void DefaultGuardianStrategy_StopsTopLevelActorAfterTenRestartsInAMinute()
    {
        IActorRef counter = Sys.ActorOf(Props.Create<CounterActor>(), "counter");
        Watch(counter);
        for (int i = 0; i < SupervisorStrategy.DefaultMaxRetries; i++)
        {
            counter.Tell(new Fail("again"), ActorRefs.NoSender);
            counter.Tell(new GetState(), TestActor);
            Assert.Equal(0, ExpectMsg<int>());
        }

        counter.Tell(new Fail("one too many"), ActorRefs.NoSender);
        ExpectMsg<Terminated>();
    }

    [Fact]
    public void Escalate_ParentFailsAndGrandparentRestartsIt_ChildrenAreReplaced()
    {
        // grandparent (restarts) -> middle (escalates) -> leaf (fails)
        Props leaf = Props.Create(() => new LifecycleActor(TestActor));
        Props middle = Props.Create(() => new ParentActor(leaf, "leaf", null)).WithSupervisorStrategy(Strategies.Always(Directive.Escalate));
        IActorRef grandparent = Sys.ActorOf(
            Props.Create(() => new ParentActor(middle, "middle", null)).WithSupervisorStrategy(Strategies.Always(Directive.Restart, TestActor)),
            "grandparent");
        ExpectMsg("ctor");
        ExpectMsg("PreStart");
        grandparent.Tell(new Fail("deep"), ActorRefs.NoSender);
        // The grandparent decides about the middle actor, with the leaf's exception.
        ExpectMsg("decide InvalidOperationException: deep");
        // Restarting the middle actor stops the old leaf and builds a new one.
        ExpectMsg("PostStop");
        ExpectMsg("ctor");
        ExpectMsg("PreStart");
        grandparent.Tell("hello", ActorRefs.NoSender);
        ExpectMsg("got hello");
    }

    [Fact]
    public void EscalateThenResume_ResumesTheFailedChildToo()
    {
        Props leaf = Props.Create<CounterActor>();
        Props middle = Props.Create(() => new ParentActor(leaf, "leaf", null)).WithSupervisorStrategy(Strategies.Always(Directive.Escalate));
        IActorRef top = Sys.ActorOf(
            Props.Create(() => new ParentActor(middle, "middle", null)).WithSupervisorStrategy(Strategies.Always(Directive.Resume)),
            "top");
        top.Tell("x", ActorRefs.NoSender);
        top.Tell(new Fail("deep"), ActorRefs.NoSender);
        top.Tell("y", ActorRefs.NoSender);
        top.Tell(new GetState(), TestActor);
        Assert.Equal(2, ExpectMsg<int>());
    }

    [Fact]
    public void ConstructorFailure_IsActorInitializationException_DefaultStops()
    {
        Sys.EventStream.Subscribe(TestActor, typeof(ActorFailure));
        IActorRef broken = Sys.ActorOf(Props.Create<BrokenConstructorActor>(), "broken");
        Watch(broken);
        ActorFailure failure = ExpectMsg<ActorFailure>();
        var init = Assert.IsType<ActorInitializationException>(failure.Cause);
        Assert.IsType<FormatException>(init.InnerException);
        Assert.Contains("/user/broken", init.Message, StringComparison.Ordinal);
        ExpectMsg<Terminated>();
    }

    [Fact]
    public void Kill_StopsActorThroughSupervision()
    {
        IActorRef victim = Sys.ActorOf(Props.Create(() => new LifecycleActor(TestActor)), "victim");
        Watch(victim);
        victim.Tell(Kill.Instance, ActorRefs.NoSender);
        FishForMessage<Terminated>(_ => true);
    }

    [Fact]
    public void PreRestartKeepingChildren_SurvivingChildIsRestartedToo()
    {
        Props child = Props.Create(() => new LifecycleActor(TestActor));
        IActorRef parent = Sys.ActorOf(Props.Create(() => new KeepChildrenActor(child)), "keeper");
        ExpectMsg("ctor");
        ExpectMsg("PreStart");
        parent.Tell(new Fail("parent"), ActorRefs.NoSender);
        ExpectMsg("PreRestart parent ");
        ExpectMsg("PostStop");
        ExpectMsg("ctor");
        ExpectMsg("PostRestart parent");
        ExpectMsg("PreStart");
        parent.Tell("still there", ActorRefs.NoSender);
        ExpectMsg("got still there");
    }

    [Fact]
    public void OneForOneStrategy_InvalidArguments_AreRejected()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new OneForOneStrategy(-2, TimeSpan.FromSeconds(1), _ => Directive.Stop));
        Assert.Throws<ArgumentOutOfRangeException>(() => new OneForOneStrategy(1, TimeSpan.FromSeconds(-1), _ => Directive.Stop));
        Assert.Throws<ArgumentNullException>(() => new OneForOneStrategy(1, TimeSpan.FromSeconds(1), null!));
    }

    private sealed class BrokenConstructorActor : ReceiveActor
    {
        public BrokenConstructorActor() => throw new FormatException("bad config");
    }

    /// <summary>Fails on <see cref="Fail"/>; its PreRestart keeps the child alive (which Akka then restarts).</summary>
    private sealed class KeepChildrenActor : ReceiveActor
    {
        public KeepChildrenActor(Props childProps)
        {
            if (Context.Child("kept") is null)
            {
                Context.ActorOf(childProps, "kept");
            }

            Receive<Fail>(f => throw new InvalidOperationException(f.Reason));
            ReceiveAny(m => Context.Child("kept")!.Forward(m));
        }

        protected override void PreRestart(Exception reason, object? message)
        {
        }
    }
}

/// <summary>The user guardian's strategy comes from <see cref="ActorSystemOptions.GuardianSupervisorStrategy"/>.</summary>
public sealed class GuardianStrategyTests : TestKit.TestKit
{
    public GuardianStrategyTests()
        : base(new ActorSystemOptions { GuardianSupervisorStrategy = SupervisorStrategy.StoppingStrategy })
    {
    }

    [Fact]
    public void StoppingGuardianStrategy_StopsAFailingTopLevelActor()
    {
        IActorRef counter = Sys.ActorOf(Props.Create<CounterActor>(), "counter");
        Watch(counter);
        counter.Tell(new Fail("once"), ActorRefs.NoSender);
        Assert.Equal(counter, ExpectMsg<Terminated>().ActorRef);
    }

    [Fact]
    public void EscalateAtTheGuardian_StopsTheTopLevelActor()
    {
        using ActorSystem system = ActorSystem.Create("escalating", new ActorSystemOptions { GuardianSupervisorStrategy = new OneForOneStrategy(_ => Directive.Escalate) });
        IActorRef counter = system.ActorOf(Props.Create<CounterActor>(), "counter");
        using var stopped = new ManualResetEventSlim(false);
        using IDisposable subscription = system.EventStream.Subscribe<DeadLetter>(_ => stopped.Set());
        counter.Tell(new Fail("escalated"), ActorRefs.NoSender);
        AwaitCondition(() =>
        {
            counter.Tell("probe", ActorRefs.NoSender);
            return stopped.IsSet;
        });
        // The failing actor is gone (its messages are dead letters), the system itself keeps running.
        Assert.False(system.IsTerminated);
    }
}
