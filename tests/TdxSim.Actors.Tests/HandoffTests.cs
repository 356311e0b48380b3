namespace TdxSim.Actors.Tests;

/// <summary>
/// The concurrent dispatcher's hand-off: a request/reply chain runs on the sender's thread, and a chain that never
/// ends still lets other actors run.
/// </summary>
public sealed class HandoffTests : TestKit.TestKit
{
    [Fact]
    public void EndlessPingPong_DoesNotStarveOtherActors()
    {
        var bounces = new StrongBox();
        IActorRef left = Sys.ActorOf(Props.Create(() => new Bouncer(bounces)), "left");
        IActorRef right = Sys.ActorOf(Props.Create(() => new Bouncer(bounces)), "right");
        left.Tell(new Ball(right), right);
        AwaitCondition(() => Interlocked.Read(ref bounces.Value) > 10_000);

        // While the pair keeps bouncing (every hop a hand-off to an idle actor), a third actor is served.
        IActorRef counter = Sys.ActorOf(Props.Create<CounterActor>(), "counter");
        for (int i = 0; i < 100; i++)
        {
            counter.Tell(i, ActorRefs.NoSender);
        }

        counter.Tell(new GetState(), TestActor);
        Assert.Equal(100, ExpectMsg<int>(TimeSpan.FromSeconds(10)));
        long during = Interlocked.Read(ref bounces.Value);
        AwaitCondition(() => Interlocked.Read(ref bounces.Value) > during + 10_000);
        Sys.Stop(left);
        Sys.Stop(right);
    }

    [Fact]
    public void RequestReplyChain_LongerThanTheFairnessCheck_DeliversEveryHopInOrder()
    {
        // Several times the hand-off chain length: the fairness check in the middle must not lose or reorder hops.
        const int RoundTrips = 5 * 256;
        IActorRef echo = Sys.ActorOf(Props.Create<EchoActor>(), "echo");
        IActorRef driver = Sys.ActorOf(Props.Create(() => new Driver(echo, RoundTrips, TestActor)), "driver");
        driver.Tell("go", ActorRefs.NoSender);
        Assert.Equal(Enumerable.Range(0, RoundTrips), ExpectMsg<List<int>>(TimeSpan.FromSeconds(20)));
    }

    private sealed class StrongBox
    {
        public long Value;
    }

    private sealed record Ball(IActorRef To);

    private sealed class Bouncer : ReceiveActor
    {
        public Bouncer(StrongBox bounces)
        {
            Receive<Ball>(b =>
            {
                Interlocked.Increment(ref bounces.Value);
                Sender.Tell(new Ball(Self), Self);
            });
        }
    }

    private sealed class Driver : ReceiveActor
    {
        private readonly List<int> _seen = [];

        public Driver(IActorRef echo, int roundTrips, IActorRef report)
        {
            Receive<string>(_ => echo.Tell(new Ping(0), Self));
            Receive<Pong>(p =>
            {
                _seen.Add(p.Id);
                if (p.Id + 1 < roundTrips)
                {
                    echo.Tell(new Ping(p.Id + 1), Self);
                }
                else
                {
                    report.Tell(_seen.ToList(), Self);
                }
            });
        }
    }
}
