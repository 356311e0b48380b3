using TdxSim.Actors.Events;

namespace TdxSim.Actors.Tests;

public sealed class CorrelationAndObserverTests : TestKit.TestKit
{
    public CorrelationAndObserverTests()
        : base(new ActorSystemOptions { VirtualTime = true })
    {
    }

    [Fact]
    public void TellsFromOutside_GetFreshIncreasingIds()
    {
        TestActor.Tell("a", ActorRefs.NoSender);
        TestActor.Tell("b", ActorRefs.NoSender);
        ExpectMsg("a");
        long first = LastEnvelope.CorrelationId;
        ExpectMsg("b");
        Assert.True(LastEnvelope.CorrelationId > first && first > 0);
    }

    [Fact]
    public void TellInsideHandler_InheritsTheHandledMessagesId()
    {
        IActorRef relay = Sys.ActorOf(Props.Create(() => new RelayActor(TestActor)), "relay");
        relay.Tell("hop", ActorRefs.NoSender, 777);
        ExpectMsg("hop");
        Assert.Equal(777, LastEnvelope.CorrelationId);
    }

    [Fact]
    public void AskReply_CarriesTheQuestionsId()
    {
        var observer = new RecordingObserver();
        Sys.AddDeliveryObserver(observer);
        IActorRef echo = Sys.ActorOf(Props.Create<EchoActor>(), "echo");
        AwaitResult(echo.Ask<Pong>(new Ping(1), TimeSpan.FromSeconds(3)));
        long question = observer.Delivered.Single(d => d.Message is Ping).CorrelationId;
        long answer = observer.Delivered.Single(d => d.Message is Pong).CorrelationId;
        Assert.Equal(question, answer);
    }

    [Fact]
    public void ContextCorrelation_NewIdStartsANewChain()
    {
        IActorRef splitter = Sys.ActorOf(Props.Create(() => new SplitterActor(TestActor)), "splitter");
        splitter.Tell("go", ActorRefs.NoSender, 50);
        ExpectMsg<long>(id => id == 50, hint: "the handled message's id");
        long fresh = ExpectMsg<long>();
        ExpectMsg("tagged");
        Assert.Equal(fresh, LastEnvelope.CorrelationId);
        Assert.NotEqual(50, fresh);
    }

    [Fact]
    public void SentAtNs_ComesFromTheSystemClock()
    {
        Sys.VirtualTime!.Advance(TimeSpan.FromSeconds(5));
        TestActor.Tell("now", ActorRefs.NoSender);
        ExpectMsg("now");
        Assert.Equal(5_000_000_000L, LastEnvelope.SentAtNs);
    }

    [Fact]
    public void Observer_SeesEveryDeliveryExactlyOnce_AndDeadLettersSeparately()
    {
        var observer = new RecordingObserver();
        Sys.AddDeliveryObserver(observer);
        IActorRef counter = Sys.ActorOf(Props.Create<CounterActor>(), "counter");
        for (int i = 0; i < 500; i++)
        {
            counter.Tell(i, ActorRefs.NoSender);
        }

        counter.Tell(new GetState(), TestActor);
        Assert.Equal(500, ExpectMsg<int>());
        Assert.Equal(500, observer.Delivered.Count(d => d.Recipient == counter && d.Message is int));
        Assert.Equal(Enumerable.Range(0, 500), observer.Delivered.Where(d => d.Recipient == counter && d.Message is int).Select(d => (int)d.Message).Order());
        Assert.Single(observer.Delivered, d => d.Recipient == TestActor && d.Message is int);

        Sys.DeadLetters.Tell("lost", ActorRefs.NoSender);
        (object message, IActorRef recipient, DeadLetterReason reason) = Assert.Single(observer.DeadLetters);
        Assert.Equal(("lost", Sys.DeadLetters, DeadLetterReason.SentToDeadLetters), (message, recipient, reason));
    }

    [Fact]
    public void RemovedObserver_IsNoLongerCalled()
    {
        var observer = new RecordingObserver();
        Sys.AddDeliveryObserver(observer);
        Assert.True(Sys.RemoveDeliveryObserver(observer));
        Assert.False(Sys.RemoveDeliveryObserver(observer));
        TestActor.Tell("quiet", ActorRefs.NoSender);
        ExpectMsg("quiet");
        Assert.Empty(observer.Delivered);
    }

    private sealed class SplitterActor : ReceiveActor
    {
        public SplitterActor(IActorRef probe) => Receive<string>(_ =>
        {
            probe.Tell(Context.CorrelationId);
            long fresh = Context.NewCorrelationId();
            probe.Tell(fresh);
            probe.Tell("tagged", Self, fresh);
        });
    }
}
