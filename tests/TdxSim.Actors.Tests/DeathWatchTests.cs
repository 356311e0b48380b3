namespace TdxSim.Actors.Tests;

public sealed class DeathWatchTests : TestKit.TestKit
{
    [Fact]
    public void Watch_StoppedActor_DeliversTerminatedWithTheDeadRef()
    {
        IActorRef subject = Sys.ActorOf(Props.Create<EchoActor>(), "subject");
        Watch(subject);
        Sys.Stop(subject);
        Terminated terminated = ExpectMsg<Terminated>();
        Assert.Equal(subject, terminated.ActorRef);
        Assert.Equal(subject, LastSender);
    }

    [Fact]
    public void Watch_AlreadyDeadActor_DeliversTerminatedAtOnce()
    {
        IActorRef subject = Sys.ActorOf(Props.Create<EchoActor>(), "subject");
        Watch(subject);
        subject.Tell(PoisonPill.Instance, ActorRefs.NoSender);
        ExpectMsg<Terminated>();

        TestKit.TestProbe late = CreateTestProbe("late");
        late.Watch(subject);
        Assert.Equal(subject, late.ExpectMsg<Terminated>().ActorRef);
    }

    [Fact]
    public void Unwatch_BeforeStop_NoTerminated()
    {
        IActorRef subject = Sys.ActorOf(Props.Create<EchoActor>(), "subject");
        Watch(subject);
        Unwatch(subject);
        // The echo proves the unwatch was processed before the stop.
        subject.Tell(new Ping(1), TestActor);
        ExpectMsg<Pong>();
        Sys.Stop(subject);
        ExpectNoMsg(TimeSpan.FromMilliseconds(200));
    }

    [Fact]
    public void ActorWatchingAnother_GetsTerminatedInItsHandler()
    {
        IActorRef subject = Sys.ActorOf(Props.Create<EchoActor>(), "subject");
        IActorRef watcher = Sys.ActorOf(Props.Create(() => new WatcherActor(subject, TestActor)), "watcher");
        ExpectMsg("watching");
        Sys.Stop(subject);
        Assert.Equal(subject, ExpectMsg<Terminated>().ActorRef);
        Assert.Equal(watcher, LastSender);
    }

    [Fact]
    public void UnhandledTerminated_IsDeathPact_WatcherStops()
    {
        IActorRef subject = Sys.ActorOf(Props.Create<EchoActor>(), "subject");
        IActorRef careless = Sys.ActorOf(Props.Create(() => new CarelessWatcherActor(subject, TestActor)), "careless");
        ExpectMsg("watching");
        Watch(careless);
        Sys.EventStream.Subscribe(TestActor, typeof(Events.ActorFailure));
        Sys.Stop(subject);
        Assert.IsType<DeathPactException>(ExpectMsg<Events.ActorFailure>().Cause);
        Assert.Equal(careless, ExpectMsg<Terminated>().ActorRef);
    }

    [Fact]
    public void Terminated_ArrivesAfterEveryMessageTheDeadActorSent()
    {
        IActorRef watcher = Sys.ActorOf(Props.Create(() => new CollectingWatcherActor(TestActor)), "collector");
        IActorRef chatty = Sys.ActorOf(Props.Create(() => new ChattyActor(watcher)), "chatty");
        watcher.Tell(chatty, ActorRefs.NoSender);
        ExpectMsg("watching");
        chatty.Tell("go", ActorRefs.NoSender);
        Assert.Equal(1000, ExpectMsg<int>());
    }

    [Fact]
    public void ParentStop_StopsChildrenFirst_ThenParentPostStop()
    {
        IActorRef parent = Sys.ActorOf(Props.Create(() => new ParentActor(Props.Create(() => new LifecycleActor(TestActor)), "child", null)), "parent");
        ExpectMsg("ctor");
        ExpectMsg("PreStart");
        Watch(parent);
        Sys.Stop(parent);
        ExpectMsg("PostStop");
        ExpectMsg<Terminated>();
    }

    private sealed class WatcherActor : ReceiveActor
    {
        public WatcherActor(IActorRef subject, IActorRef probe)
        {
            Context.Watch(subject);
            probe.Tell("watching");
            Receive<Terminated>(t => probe.Tell(t));
        }
    }

    private sealed class CarelessWatcherActor : ReceiveActor
    {
        public CarelessWatcherActor(IActorRef subject, IActorRef probe)
        {
            Context.Watch(subject);
            probe.Tell("watching");
            Receive<string>(_ => { });
        }
    }

    private sealed class ChattyActor : ReceiveActor
    {
        public ChattyActor(IActorRef target) => Receive<string>(_ =>
        {
            for (int i = 0; i < 1000; i++)
            {
                target.Tell(i);
            }

            Context.Stop(Self);
        });
    }

    private sealed class CollectingWatcherActor : ReceiveActor
    {
        private int _received;

        public CollectingWatcherActor(IActorRef probe)
        {
            Receive<IActorRef>(subject =>
            {
                Context.Watch(subject);
                probe.Tell("watching");
            });
            Receive<int>(_ => _received++);
            Receive<Terminated>(_ => probe.Tell(_received));
        }
    }
}
