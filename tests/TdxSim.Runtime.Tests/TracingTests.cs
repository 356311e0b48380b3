using Akka.Actor;
using TdxSim.Runtime.TestKit;
using TdxSim.Runtime.Tracing;

namespace TdxSim.Runtime.Tests;

/// <summary>The message-log hook: deliveries observed with sender, correlation id and send time; undelivered counted.</summary>
public sealed class TracingTests : TdxTestKit
{
    /// <summary>Starts a fresh correlation for each "start" and passes everything else on.</summary>
    private sealed class Origin : TdxActor
    {
        public Origin(IActorRef next)
        {
            Receive<string>(s => s == "start", _ =>
            {
                long id = StartCorrelation();
                next.Tell(id);
            });
        }
    }

    /// <summary>Handles only strings.</summary>
    private sealed class Picky : TdxActor
    {
        public Picky() => Receive<string>(_ => { });
    }

    [Fact]
    public void A_correlation_id_flows_through_every_message_it_causes()
    {
        DeliveryRecorder recorder = RecordDeliveries();
        IActorRef last = ActorOfStarted(RelayTo(TestActor), "last");
        IActorRef middle = ActorOfStarted(RelayTo(last), "middle");
        TellWithCorrelation(middle, "hello", TestActor, correlationId: 4242);
        ExpectMsg("hello");

        Assert.Equal([4242L, 4242L], recorder.Delivered.Where(d => d.Message is "hello").Select(d => d.CorrelationId));
        Assert.Equal(["middle", "last"], recorder.Delivered.Where(d => d.Message is "hello").Select(d => d.Recipient.Path.Name));
    }

    [Fact]
    public void StartCorrelation_gives_each_cause_a_fresh_id()
    {
        DeliveryRecorder recorder = RecordDeliveries();
        IActorRef relay = ActorOfStarted(RelayTo(TestActor), "relay");
        IActorRef origin = ActorOfStarted(Props.Create(() => new Origin(relay)), "origin");
        TellWithCorrelation(origin, "start", TestActor, correlationId: 7);
        TellWithCorrelation(origin, "start", TestActor, correlationId: 7);
        long first = ExpectMsg<long>();
        long second = ExpectMsg<long>();

        Assert.NotEqual(first, second);
        Assert.NotEqual(7, first);
        long[] seenByRelay = recorder.Delivered.Where(d => d.Recipient.Path.Name == "relay").Select(d => d.CorrelationId).ToArray();
        Assert.Equal([first, second], seenByRelay);
    }

    [Fact]
    public void A_message_without_a_cause_gets_its_own_id()
    {
        DeliveryRecorder recorder = RecordDeliveries();
        IActorRef relay = ActorOfStarted(RelayTo(TestActor), "plain");
        relay.Tell("a");
        relay.Tell("b");
        ExpectMsg("a");
        ExpectMsg("b");
        long[] ids = recorder.Delivered.Where(d => d.Recipient.Path.Name == "plain").Select(d => d.CorrelationId).ToArray();
        Assert.Equal(2, ids.Length);
        Assert.All(ids, id => Assert.True(id > 0));
        Assert.NotEqual(ids[0], ids[1]);
    }

    [Fact]
    public void Send_times_are_recorded_when_an_observer_wants_them()
    {
        var timed = new TimedRecorder();
        Runtime.AddDeliveryObserver(timed);
        IActorRef relay = ActorOfStarted(RelayTo(TestActor), "timed");
        long before = Runtime.Clock.NowNanoseconds;
        relay.Tell("x");
        ExpectMsg("x");
        Delivery d = Assert.Single(timed.Seen, x => x.Message is "x");
        Assert.InRange(d.SentAtNs, before, Runtime.Clock.NowNanoseconds);
        Assert.Same(TestActor, d.Sender);
    }

    [Fact]
    public void Dead_letters_are_counted_and_reported()
    {
        var seen = new List<UndeliveredMessage>();
        Runtime.Undelivery += m => { lock (seen) { seen.Add(m); } };
        IActorRef gone = ActorOfStarted(RelayTo(TestActor), "gone");
        Watch(gone);
        Sys.Stop(gone);
        ExpectTerminated(gone);
        long before = Runtime.DeadLetterCount;
        gone.Tell("late");
        AwaitAssert(() => Assert.Equal(before + 1, Runtime.DeadLetterCount));
        lock (seen)
        {
            Assert.Contains(seen, m => m.Message is "late" && m.Reason == UndeliveredReason.DeadLetter);
        }
    }

    [Fact]
    public void Unhandled_messages_are_counted_apart_from_dead_letters()
    {
        IActorRef picky = ActorOfStarted(Props.Create(() => new Picky()), "picky");
        long deadBefore = Runtime.DeadLetterCount;
        picky.Tell(12345);
        AwaitAssert(() => Assert.Equal(1, Runtime.UnhandledCount));
        Assert.Equal(deadBefore, Runtime.DeadLetterCount);
    }

    private sealed class TimedRecorder : IDeliveryObserver
    {
        private readonly List<Delivery> _seen = [];

        public bool WantsSendTimes => true;

        public IReadOnlyList<Delivery> Seen
        {
            get
            {
                lock (_seen)
                {
                    return [.. _seen];
                }
            }
        }

        public void OnDelivered(in Delivery delivery, IActorRef recipient)
        {
            lock (_seen)
            {
                _seen.Add(delivery);
            }
        }

        public void OnUndelivered(in Delivery delivery, IActorRef recipient, UndeliveredReason reason)
        {
        }
    }
}
