using TdxSim.Actors.Events;

namespace TdxSim.Actors.Tests;

public sealed class MessagingTests : TestKit.TestKit
{
    [Fact]
    public void Tell_WithExplicitSender_ReplyReachesThatSender()
    {
        IActorRef echo = Sys.ActorOf(Props.Create<EchoActor>(), "echo");
        echo.Tell(new Ping(7), TestActor);
        Assert.Equal(7, ExpectMsgFrom<Pong>(echo).Id);
    }

    [Fact]
    public void TellExtension_InsideActor_UsesSelfAsSender()
    {
        IActorRef relay = Sys.ActorOf(Props.Create(() => new RelayActor(TestActor)), "relay");
        relay.Tell("hello", ActorRefs.NoSender);
        ExpectMsgFrom<string>(relay, s => s == "hello");
    }

    [Fact]
    public void TellExtension_OutsideActors_SendsWithoutSender()
    {
        TestActor.Tell("outside");
        ExpectMsg("outside");
        Assert.Null(LastEnvelope.Sender);
        Assert.Equal(Sys.DeadLetters, LastSender);
    }

    [Fact]
    public void Forward_KeepsOriginalSender()
    {
        IActorRef echo = Sys.ActorOf(Props.Create<EchoActor>(), "echo");
        IActorRef forwarder = Sys.ActorOf(Props.Create(() => new ForwarderActor(echo)), "forwarder");
        forwarder.Tell(new Ping(3), TestActor);
        Assert.Equal(3, ExpectMsgFrom<Pong>(echo).Id);
    }

    [Fact]
    public void Forward_OutsideActor_ThrowsInvalidOperation()
    {
        var error = Assert.Throws<InvalidOperationException>(() => TestActor.Forward("x"));
        Assert.Contains("inside an actor", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Tell_NullMessage_ThrowsArgumentNull()
    {
        Assert.Throws<ArgumentNullException>(() => TestActor.Tell(null!, ActorRefs.NoSender));
    }

    [Fact]
    public void ReplyToMessageWithoutSender_GoesToDeadLettersAndIsCounted()
    {
        IActorRef echo = Sys.ActorOf(Props.Create<EchoActor>(), "echo");
        Sys.EventStream.Subscribe(TestActor, typeof(DeadLetter));
        echo.Tell(new Ping(1), ActorRefs.NoSender);
        DeadLetter dead = ExpectMsg<DeadLetter>();
        Assert.Equal(new Pong(1), dead.Message);
        Assert.Equal(Sys.DeadLetters, dead.Recipient);
        Assert.Equal(1, Sys.DeadLetterCount);
    }

    [Fact]
    public void ReceiveWithPredicate_TriesHandlersInRegistrationOrder()
    {
        IActorRef sorter = Sys.ActorOf(Props.Create(() => new SorterActor(TestActor)), "sorter");
        sorter.Tell(5, ActorRefs.NoSender);
        sorter.Tell(-5, ActorRefs.NoSender);
        sorter.Tell("text", ActorRefs.NoSender);
        ExpectMsg("positive 5");
        ExpectMsg("other int -5");
        ExpectMsg("any text");
    }

    [Fact]
    public void BecomeAndBecomeStacked_SwitchBehaviour_UnbecomeReturns()
    {
        IActorRef moody = Sys.ActorOf(Props.Create(() => new MoodyActor(TestActor)), "moody");
        moody.Tell("hi", ActorRefs.NoSender);
        ExpectMsg("calm: hi");
        moody.Tell("anger", ActorRefs.NoSender);
        moody.Tell("hi", ActorRefs.NoSender);
        ExpectMsg("angry: hi");
        moody.Tell("surprise", ActorRefs.NoSender);
        moody.Tell("hi", ActorRefs.NoSender);
        ExpectMsg("surprised: hi");
        moody.Tell("back", ActorRefs.NoSender);
        moody.Tell("hi", ActorRefs.NoSender);
        ExpectMsg("angry: hi");
        moody.Tell("back", ActorRefs.NoSender);
        moody.Tell("hi", ActorRefs.NoSender);
        ExpectMsg("calm: hi");
    }

    [Fact]
    public void ActorConstructedWithNew_ThrowsClearError()
    {
        var error = Assert.Throws<InvalidOperationException>(() => new EchoActor());
        Assert.Contains("Props.Create", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ReceiveOutsideConstructor_ThrowsInsideHandler_ReportedAsFailure()
    {
        Sys.EventStream.Subscribe(TestActor, typeof(ActorFailure));
        IActorRef bad = Sys.ActorOf(Props.Create<LateRegistrationActor>(), "late");
        bad.Tell("register", ActorRefs.NoSender);
        ActorFailure failure = ExpectMsg<ActorFailure>();
        Assert.IsType<InvalidOperationException>(failure.Cause);
        Assert.Contains("constructor", failure.Cause.Message, StringComparison.Ordinal);
    }

    private sealed class ForwarderActor : ReceiveActor
    {
        public ForwarderActor(IActorRef target) => ReceiveAny(m => target.Forward(m));
    }

    private sealed class SorterActor : ReceiveActor
    {
        public SorterActor(IActorRef probe)
        {
            Receive<int>(i => i > 0, i => probe.Tell($"positive {i}"));
            Receive<int>(i => probe.Tell($"other int {i}"));
            ReceiveAny(m => probe.Tell($"any {m}"));
        }
    }

    private sealed class MoodyActor : ReceiveActor
    {
        private readonly IActorRef _probe;

        public MoodyActor(IActorRef probe)
        {
            _probe = probe;
            Calm();
        }

        private void Calm()
        {
            Receive<string>(s => s == "anger", _ => Become(Angry));
            Receive<string>(s => _probe.Tell($"calm: {s}"));
        }

        private void Angry()
        {
            Receive<string>(s => s == "surprise", _ => BecomeStacked(Surprised));
            Receive<string>(s => s == "back", _ => UnbecomeStacked());
            Receive<string>(s => _probe.Tell($"angry: {s}"));
        }

        private void Surprised()
        {
            Receive<string>(s => s == "back", _ => UnbecomeStacked());
            Receive<string>(s => _probe.Tell($"surprised: {s}"));
        }
    }

    private sealed class LateRegistrationActor : ReceiveActor
    {
        public LateRegistrationActor() => Receive<string>(_ => Receive<int>(_ => { }));
    }
}
