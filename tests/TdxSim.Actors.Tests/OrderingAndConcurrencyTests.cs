namespace TdxSim.Actors.Tests;

public sealed class OrderingAndConcurrencyTests : TestKit.TestKit
{
    [Fact]
    public void SingleSender_MessagesArriveInSendOrder()
    {
        const int Count = 10_000;
        IActorRef recorder = Sys.ActorOf(Props.Create(() => new SequenceCheckerActor(1, Count)), "checker");
        for (int i = 0; i < Count; i++)
        {
            recorder.Tell(new Numbered(0, i), ActorRefs.NoSender);
        }

        recorder.Tell(new GetState(), TestActor);
        Assert.Equal("ok", ExpectMsg<string>());
    }

    [Fact]
    public void ManySenderActors_EachSendersOrderIsKept()
    {
        const int Senders = 8;
        const int PerSender = 5_000;
        IActorRef checker = Sys.ActorOf(Props.Create(() => new SequenceCheckerActor(Senders, PerSender)), "checker");
        var senders = new IActorRef[Senders];
        for (int s = 0; s < Senders; s++)
        {
            int id = s;
            senders[s] = Sys.ActorOf(Props.Create(() => new BurstActor(checker, id, PerSender)), $"sender-{s}");
        }

        foreach (IActorRef sender in senders)
        {
            sender.Tell("go", ActorRefs.NoSender);
        }

        AwaitAssert(() =>
        {
            checker.Tell(new GetState(), TestActor);
            Assert.Equal("ok", ExpectMsg<string>());
        });
    }

    [Fact]
    public void FourThreadsTimes100k_NoMessageLost_CountedExactly()
    {
        const int Threads = 4;
        const int PerThread = 100_000;
        IActorRef counter = Sys.ActorOf(Props.Create<CounterActor>(), "counter");
        var message = new object();
        using var start = new Barrier(Threads);
        Thread[] threads = Enumerable.Range(0, Threads).Select(_ => new Thread(() =>
        {
            start.SignalAndWait();
            for (int i = 0; i < PerThread; i++)
            {
                counter.Tell(message, ActorRefs.NoSender);
            }
        })).ToArray();
        foreach (Thread t in threads)
        {
            t.Start();
        }

        foreach (Thread t in threads)
        {
            t.Join();
        }

        counter.Tell(new GetState(), TestActor);
        Assert.Equal(Threads * PerThread, ExpectMsg<int>(TimeSpan.FromSeconds(20)));
        Assert.Equal(0, Sys.DeadLetterCount);
    }

    [Fact]
    public void ConcurrentThreads_PerThreadOrderIsKept()
    {
        const int Threads = 4;
        const int PerThread = 50_000;
        IActorRef checker = Sys.ActorOf(Props.Create(() => new SequenceCheckerActor(Threads, PerThread)), "checker");
        Parallel.For(0, Threads, new ParallelOptions { MaxDegreeOfParallelism = Threads }, t =>
        {
            for (int i = 0; i < PerThread; i++)
            {
                checker.Tell(new Numbered(t, i), ActorRefs.NoSender);
            }
        });
        checker.Tell(new GetState(), TestActor);
        Assert.Equal("ok", ExpectMsg<string>(TimeSpan.FromSeconds(20)));
    }

    [Fact]
    public void OneMessageAtATime_NoOverlappingHandlers()
    {
        IActorRef guard = Sys.ActorOf(Props.Create<OverlapDetectorActor>(), "guard");
        Parallel.For(0, 4, _ =>
        {
            for (int i = 0; i < 20_000; i++)
            {
                guard.Tell(i, ActorRefs.NoSender);
            }
        });
        guard.Tell(new GetState(), TestActor);
        Assert.Equal((80_000, 0), ExpectMsg<(int Handled, int Overlaps)>(TimeSpan.FromSeconds(20)));
    }

    [Fact]
    public void RequestReplyChain_AcrossActors_CompletesWithoutLoss()
    {
        const int Hops = 1_000;
        IActorRef echo = Sys.ActorOf(Props.Create<EchoActor>(), "echo");
        IActorRef pinger = Sys.ActorOf(Props.Create(() => new PingerActor(echo, Hops, TestActor)), "pinger");
        pinger.Tell("start", ActorRefs.NoSender);
        Assert.Equal(Hops, ExpectMsg<int>());
    }

    [Fact]
    public void TokenRing_ManyTokensManyHops_EveryTokenCompletesExactlyOnce()
    {
        const int RingSize = 16;
        const int Tokens = 200;
        const int Hops = 500;
        var ring = new IActorRef[RingSize];
        var next = new IActorRef?[RingSize];
        for (int i = 0; i < RingSize; i++)
        {
            int index = i;
            ring[i] = Sys.ActorOf(Props.Create(() => new RingNodeActor(next, index, TestActor)), $"node-{i}");
        }

        for (int i = 0; i < RingSize; i++)
        {
            next[i] = ring[(i + 1) % RingSize];
        }

        // Inject from several threads at once while the ring is already busy.
        Parallel.For(0, Tokens, t => ring[t % RingSize].Tell(new Token(t, Hops), ActorRefs.NoSender));
        IReadOnlyList<object> done = ReceiveN(Tokens, TimeSpan.FromSeconds(30));
        Assert.Equal(Enumerable.Range(0, Tokens), done.Cast<Token>().Select(t => t.Id).Order());
        ExpectNoMsg(TimeSpan.FromMilliseconds(50));
    }

    private sealed record Token(int Id, int HopsLeft);

    private sealed class RingNodeActor : ReceiveActor
    {
        public RingNodeActor(IActorRef?[] next, int index, IActorRef report) => Receive<Token>(t =>
        {
            if (t.HopsLeft == 0)
            {
                report.Tell(t);
            }
            else
            {
                next[index]!.Tell(t with { HopsLeft = t.HopsLeft - 1 });
            }
        });
    }

    /// <summary>Checks that each sender's sequence numbers arrive as 0, 1, 2, ...</summary>
    private sealed class SequenceCheckerActor : ReceiveActor
    {
        public SequenceCheckerActor(int senders, int perSender)
        {
            int[] next = new int[senders];
            string? error = null;
            Receive<Numbered>(n =>
            {
                if (n.Sequence != next[n.Sender] && error is null)
                {
                    error = $"sender {n.Sender}: expected {next[n.Sender]}, got {n.Sequence}";
                }

                next[n.Sender] = n.Sequence + 1;
            });
            Receive<GetState>(_ =>
            {
                string? incomplete = next.Select((v, i) => v == perSender ? null : $"sender {i} at {v}").FirstOrDefault(s => s is not null);
                Sender.Tell(error ?? incomplete ?? "ok");
            });
        }
    }

    private sealed class BurstActor : ReceiveActor
    {
        public BurstActor(IActorRef target, int id, int count) => Receive<string>(_ =>
        {
            for (int i = 0; i < count; i++)
            {
                target.Tell(new Numbered(id, i));
            }
        });
    }

    private sealed class OverlapDetectorActor : ReceiveActor
    {
        private int _inside;
        private int _handled;
        private int _overlaps;

        public OverlapDetectorActor()
        {
            Receive<int>(_ =>
            {
                if (Interlocked.Increment(ref _inside) != 1)
                {
                    _overlaps++;
                }

                _handled++;
                Thread.SpinWait(10);
                Interlocked.Decrement(ref _inside);
            });
            Receive<GetState>(_ => Sender.Tell((_handled, _overlaps)));
        }
    }

    private sealed class PingerActor : ReceiveActor
    {
        private int _count;

        public PingerActor(IActorRef echo, int hops, IActorRef report)
        {
            Receive<string>(_ => echo.Tell(new Ping(0)));
            Receive<Pong>(p =>
            {
                _count++;
                if (p.Id + 1 == hops)
                {
                    report.Tell(_count);
                }
                else
                {
                    echo.Tell(new Ping(p.Id + 1));
                }
            });
        }
    }
}
