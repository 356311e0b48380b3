using TdxSim.Actors.Events;

namespace TdxSim.Actors.Tests;

public sealed class DeadLetterAndLifecycleTests : TestKit.TestKit
{
    [Fact]
    public void TellToStoppedActor_PublishesDeadLetterAndCountsIt()
    {
        IActorRef victim = Sys.ActorOf(Props.Create<EchoActor>(), "victim");
        Watch(victim);
        Sys.Stop(victim);
        ExpectMsg<Terminated>();
        Sys.EventStream.Subscribe(TestActor, typeof(DeadLetter));
        victim.Tell(new Ping(9), TestActor);
        DeadLetter dead = ExpectMsg<DeadLetter>();
        Assert.Equal(new Ping(9), dead.Message);
        Assert.Equal(TestActor, dead.Sender);
        Assert.Equal(victim, dead.Recipient);
        Assert.Equal(1, Sys.DeadLetterCount);
    }

    [Fact]
    public void MessagesQueuedWhenActorStops_BecomeDeadLetters_NoneLost()
    {
        var observer = new RecordingObserver();
        Sys.AddDeliveryObserver(observer);
        IActorRef gate = Sys.ActorOf(Props.Create(() => new GateActor()), "gate");
        Watch(gate);
        using var release = new ManualResetEventSlim(false);
        gate.Tell(release, TestActor);
        ExpectMsg("blocked");
        for (int i = 0; i < 100; i++)
        {
            gate.Tell(i, ActorRefs.NoSender);
        }

        Sys.Stop(gate);
        release.Set();
        ExpectMsg<Terminated>();
        int handled = observer.Delivered.Count(d => d.Recipient == gate && d.Message is int);
        int dead = observer.DeadLetters.Count(d => d.Recipient == gate && d.Message is int && d.Reason == DeadLetterReason.RecipientTerminated);
        Assert.Equal(100, handled + dead);
        Assert.True(dead > 0, "the stop overtakes queued messages, so some must be dead letters");
        Assert.Equal(dead, Sys.DeadLetterCount);
    }

    [Fact]
    public void PoisonPill_HandlesEarlierMessages_LaterOnesAreDeadLetters()
    {
        IActorRef actor = Sys.ActorOf(Props.Create(() => new LifecycleActor(TestActor)), "life");
        ExpectMsg("ctor");
        ExpectMsg("PreStart");
        Watch(actor);
        actor.Tell("one", ActorRefs.NoSender);
        actor.Tell(PoisonPill.Instance, ActorRefs.NoSender);
        actor.Tell("two", ActorRefs.NoSender);
        ExpectMsg("got one");
        ExpectMsg("PostStop");
        ExpectMsg<Terminated>();
        AwaitCondition(() => Sys.DeadLetterCount == 1);
    }

    [Fact]
    public void Unhandled_PublishesUnhandledMessageAndCountsIt()
    {
        IActorRef picky = Sys.ActorOf(Props.Create<PickyActor>(), "picky");
        Sys.EventStream.Subscribe(TestActor, typeof(UnhandledMessage));
        picky.Tell(3.14, TestActor);
        UnhandledMessage unhandled = ExpectMsg<UnhandledMessage>();
        Assert.Equal(3.14, unhandled.Message);
        Assert.Equal(picky, unhandled.Recipient);
        Assert.Equal(TestActor, unhandled.Sender);
        Assert.Equal(1, Sys.UnhandledCount);
        Assert.Equal(0, Sys.DeadLetterCount);
    }

    [Fact]
    public void SubscribingToAllDeadLetters_SeesDeadLettersAndUnhandled()
    {
        Sys.EventStream.Subscribe(TestActor, typeof(AllDeadLetters));
        IActorRef picky = Sys.ActorOf(Props.Create<PickyActor>(), "picky");
        picky.Tell(1.5, ActorRefs.NoSender);
        Sys.DeadLetters.Tell("to nobody", ActorRefs.NoSender);
        ExpectMsgAllOf(
            new UnhandledMessage(1.5, null, picky),
            new DeadLetter("to nobody", null, Sys.DeadLetters));
    }

    [Fact]
    public void DelegateSubscription_ReceivesEventsUntilDisposed()
    {
        var seen = new List<object>();
        IDisposable subscription = Sys.EventStream.Subscribe<DeadLetter>(d =>
        {
            lock (seen)
            {
                seen.Add(d.Message);
            }
        });
        Sys.DeadLetters.Tell("first", ActorRefs.NoSender);
        subscription.Dispose();
        Sys.DeadLetters.Tell("second", ActorRefs.NoSender);
        Assert.Equal(["first"], seen);
        Assert.Equal(2, Sys.DeadLetterCount);
    }

    [Fact]
    public void DuplicateSiblingName_ThrowsInvalidActorNameAtCallSite()
    {
        Sys.ActorOf(Props.Create<EchoActor>(), "vcpu-0");
        var error = Assert.Throws<InvalidActorNameException>(() => Sys.ActorOf(Props.Create<EchoActor>(), "vcpu-0"));
        Assert.Contains("not unique", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void DuplicateChildName_InsideActor_ThrowsToTheCaller()
    {
        IActorRef maker = Sys.ActorOf(Props.Create<ChildMakerActor>(), "maker");
        maker.Tell("make twice", TestActor);
        Assert.IsType<InvalidActorNameException>(ExpectMsg<Exception>());
    }

    [Theory]
    [InlineData("", "must not be empty")]
    [InlineData("vcpu/0", "path separator")]
    [InlineData("$auto", "reserved")]
    [InlineData("white space", "not allowed")]
    public void InvalidName_ThrowsInvalidActorNameNamingTheRule(string name, string rule)
    {
        var error = Assert.Throws<InvalidActorNameException>(() => Sys.ActorOf(Props.Create<EchoActor>(), name));
        Assert.Contains(rule, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Name_IsFreedOnceThePreviousActorStopped()
    {
        IActorRef first = Sys.ActorOf(Props.Create<EchoActor>(), "vmm");
        Watch(first);
        Sys.Stop(first);
        ExpectMsg<Terminated>();
        AwaitAssert(() => Sys.ActorOf(Props.Create<EchoActor>(), "vmm"));
    }

    [Fact]
    public void Paths_ReflectHierarchy()
    {
        IActorRef parent = Sys.ActorOf(Props.Create(() => new ParentActor(Props.Create<EchoActor>(), "0", TestActor)), "vcpu");
        IActorRef child = ExpectMsg<IActorRef>();
        Assert.Equal("/user/vcpu", parent.Path.ToString());
        Assert.Equal("/user/vcpu/0", child.Path.ToString());
        Assert.Equal("vcpu/0", child.Path.ToUserRelativeString());
        Assert.Equal("0", child.Name);
        Assert.Equal(parent.Path, child.Path.Parent);
    }

    [Fact]
    public void GeneratedNames_AreUniqueAndReserved()
    {
        IActorRef a = Sys.ActorOf(Props.Create<EchoActor>());
        IActorRef b = Sys.ActorOf(Props.Create<EchoActor>());
        Assert.StartsWith("$", a.Name, StringComparison.Ordinal);
        Assert.NotEqual(a.Name, b.Name);
    }

    [Fact]
    public async Task Terminate_StopsChildrenBeforeParents_ThenTellsAreCountedDeadLetters()
    {
        var stopped = new System.Collections.Concurrent.ConcurrentQueue<string>();
        Props leaf = Props.Create(() => new StopRecorderActor(stopped, null));
        IActorRef parent = Sys.ActorOf(Props.Create(() => new StopRecorderActor(stopped, leaf)), "parent");
        parent.Tell("ready?", TestActor);
        ExpectMsg("ready");

        await Sys.Terminate().WaitAsync(TimeSpan.FromSeconds(5));

        Assert.True(Sys.IsTerminated);
        string[] order = [.. stopped];
        Assert.True(Array.IndexOf(order, "/user/parent/child") < Array.IndexOf(order, "/user/parent"), string.Join(", ", order));
        long before = Sys.DeadLetterCount;
        parent.Tell("after", ActorRefs.NoSender);
        Assert.Equal(before + 1, Sys.DeadLetterCount);
        var error = Assert.Throws<InvalidOperationException>(() => Sys.ActorOf(Props.Create<EchoActor>(), "late"));
        Assert.Contains("terminat", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ActorSystemName_Invalid_Throws()
    {
        Assert.Throws<ArgumentException>(() => ActorSystem.Create("bad name"));
        Assert.Throws<ArgumentException>(() => ActorSystem.Create(""));
    }

    [Fact]
    public void ContextChildAndGetChildren_ListLiveChildren()
    {
        IActorRef parent = Sys.ActorOf(Props.Create<ChildMakerActor>(), "maker");
        parent.Tell("make a", TestActor);
        parent.Tell("make b", TestActor);
        parent.Tell("list", TestActor);
        Assert.Equal(["a", "b"], ExpectMsg<string[]>());
    }

    private sealed class GateActor : ReceiveActor
    {
        public GateActor()
        {
            Receive<ManualResetEventSlim>(gate =>
            {
                Sender.Tell("blocked");
                gate.Wait(TimeSpan.FromSeconds(5));
            });
            Receive<int>(_ => { });
        }
    }

    private sealed class StopRecorderActor : ReceiveActor
    {
        private readonly System.Collections.Concurrent.ConcurrentQueue<string> _stopped;

        public StopRecorderActor(System.Collections.Concurrent.ConcurrentQueue<string> stopped, Props? child)
        {
            _stopped = stopped;
            if (child is not null)
            {
                Context.ActorOf(child, "child");
            }

            Receive<string>(_ => Sender.Tell("ready"));
        }

        protected override void PostStop() => _stopped.Enqueue(Self.Path.ToString());
    }

    private sealed class PickyActor : ReceiveActor
    {
        public PickyActor() => Receive<string>(_ => { });
    }

    private sealed class ChildMakerActor : ReceiveActor
    {
        public ChildMakerActor()
        {
            Receive<string>(s => s == "make twice", _ =>
            {
                Context.ActorOf(Props.Create<EchoActor>(), "twin");
                try
                {
                    Context.ActorOf(Props.Create<EchoActor>(), "twin");
                }
                catch (InvalidActorNameException e)
                {
                    Sender.Tell((Exception)e);
                }
            });
            Receive<string>(s => s.StartsWith("make ", StringComparison.Ordinal), s => Context.ActorOf(Props.Create<EchoActor>(), s[5..]));
            Receive<string>(s => s == "list", _ => Sender.Tell(Context.GetChildren().Select(c => c.Name).Order(StringComparer.Ordinal).ToArray()));
        }
    }
}
