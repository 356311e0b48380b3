using TdxSim.Actors.Events;

namespace TdxSim.Actors.Tests;

/// <summary>
/// <see cref="ActorSystemOptions.SendTimesOnlyWhenObserved"/>: the clock is read for <see cref="Envelope.SentAtNs"/>
/// only while an observer that wants send times is attached.
/// </summary>
public sealed class SendTimeTests : TestKit.TestKit
{
    private static readonly long FiveSeconds = 5_000_000_000L;

    public SendTimeTests()
        : base(new ActorSystemOptions { VirtualTime = true, SendTimesOnlyWhenObserved = true })
    {
        Sys.VirtualTime!.Advance(TimeSpan.FromSeconds(5));
    }

    [Fact]
    public void WithoutObservers_EnvelopesCarryNoSendTime()
    {
        TestActor.Tell("untimed", ActorRefs.NoSender);
        ExpectMsg("untimed");
        Assert.Equal(Envelope.NoSendTime, LastEnvelope.SentAtNs);
    }

    [Fact]
    public void WithAnObserverThatWantsThem_EnvelopesCarryTheClock_AndStopWhenItIsRemoved()
    {
        var observer = new RecordingObserver();
        Sys.AddDeliveryObserver(observer);
        TestActor.Tell("timed", ActorRefs.NoSender);
        ExpectMsg("timed");
        Assert.Equal(FiveSeconds, LastEnvelope.SentAtNs);

        Assert.True(Sys.RemoveDeliveryObserver(observer));
        TestActor.Tell("untimed again", ActorRefs.NoSender);
        ExpectMsg("untimed again");
        Assert.Equal(Envelope.NoSendTime, LastEnvelope.SentAtNs);
    }

    [Fact]
    public void WithOnlyObserversThatDoNotWantThem_EnvelopesCarryNoSendTime()
    {
        var counter = new CountingObserver();
        Sys.AddDeliveryObserver(counter);
        TestActor.Tell("counted", ActorRefs.NoSender);
        ExpectMsg("counted");
        Assert.Equal(Envelope.NoSendTime, LastEnvelope.SentAtNs);
        Assert.True(counter.Delivered >= 1);

        // One observer that wants them is enough.
        Sys.AddDeliveryObserver(new RecordingObserver());
        TestActor.Tell("timed", ActorRefs.NoSender);
        ExpectMsg("timed");
        Assert.Equal(FiveSeconds, LastEnvelope.SentAtNs);
    }

    [Fact]
    public void AskQuestionsAndReplies_FollowTheSameRule()
    {
        var observer = new SendTimeObserver();
        Sys.AddDeliveryObserver(observer);
        IActorRef echo = Sys.ActorOf(Props.Create<EchoActor>(), "echo");
        AwaitResult(echo.Ask<Pong>(new Ping(1), TimeSpan.FromSeconds(3)));
        Assert.Equal([FiveSeconds, FiveSeconds], observer.SendTimes(m => m is Ping or Pong));

        Sys.RemoveDeliveryObserver(observer);
        var counter = new CountingObserver();
        Sys.AddDeliveryObserver(counter);
        Assert.Equal(2, AwaitResult(echo.Ask<Pong>(new Ping(2), TimeSpan.FromSeconds(3))).Id);
        Assert.Equal([FiveSeconds, FiveSeconds], observer.SendTimes(m => m is Ping or Pong));
    }

    [Fact]
    public void ByDefault_EverySendIsTimed()
    {
        using var system = ActorSystem.Create("default-timing", new ActorSystemOptions { VirtualTime = true });
        var observer = new SendTimeObserver { Wants = false };
        system.AddDeliveryObserver(observer);
        system.VirtualTime!.Advance(TimeSpan.FromSeconds(5));
        IActorRef echo = system.ActorOf(Props.Create<EchoActor>(), "echo");
        AwaitResult(echo.Ask<Pong>(new Ping(1), TimeSpan.FromSeconds(3)));
        Assert.Equal([FiveSeconds, FiveSeconds], observer.SendTimes(m => m is Ping or Pong));
    }

    private sealed class CountingObserver : IDeliveryObserver
    {
        private long _delivered;

        public long Delivered => Interlocked.Read(ref _delivered);

        public bool WantsSendTimes => false;

        public void OnDelivered(in Envelope envelope, IActorRef recipient) => Interlocked.Increment(ref _delivered);

        public void OnDeadLetter(in Envelope envelope, IActorRef recipient, DeadLetterReason reason)
        {
        }
    }

    private sealed class SendTimeObserver : IDeliveryObserver
    {
        private readonly object _gate = new();
        private readonly List<(object Message, long SentAtNs)> _seen = [];

        public bool Wants { get; init; } = true;

        public bool WantsSendTimes => Wants;

        public long[] SendTimes(Func<object, bool> which)
        {
            lock (_gate)
            {
                return [.. _seen.Where(s => which(s.Message)).Select(s => s.SentAtNs)];
            }
        }

        public void OnDelivered(in Envelope envelope, IActorRef recipient)
        {
            lock (_gate)
            {
                _seen.Add((envelope.Message, envelope.SentAtNs));
            }
        }

        public void OnDeadLetter(in Envelope envelope, IActorRef recipient, DeadLetterReason reason)
        {
        }
    }
}
