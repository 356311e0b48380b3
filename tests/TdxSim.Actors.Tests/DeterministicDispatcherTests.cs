using TdxSim.Actors.Dispatch;
using TdxSim.Actors.Scheduling;

namespace TdxSim.Actors.Tests;

public sealed class DeterministicDispatcherTests
{
    [Fact]
    public void SameSeed_GivesByteIdenticalScheduleAndDeliveryOrder()
    {
        ScenarioResult first = RunFanOutScenario(seed: 7);
        ScenarioResult second = RunFanOutScenario(seed: 7);
        Assert.Equal(first.Schedule, second.Schedule);
        Assert.Equal(first.Arrivals, second.Arrivals);
        Assert.Equal(first.Fingerprint, second.Fingerprint);
        Assert.Equal(first.Steps, second.Steps);
        Assert.True(first.Steps > 100, $"scenario too small: {first.Steps} steps");
    }

    [Fact]
    public void DifferentSeeds_GiveDifferentInterleavings_ButKeepPerSenderOrder()
    {
        ScenarioResult[] runs = [.. Enumerable.Range(1, 4).Select(seed => RunFanOutScenario((ulong)seed))];
        Assert.Equal(4, runs.Select(r => string.Join(",", r.Arrivals)).Distinct().Count());
        Assert.Equal(4, runs.Select(r => r.Fingerprint).Distinct().Count());
        foreach (ScenarioResult run in runs)
        {
            // Whatever the interleaving, each worker's messages reach the sink in the order it sent them.
            foreach (IGrouping<int, Numbered> byWorker in run.Arrivals.GroupBy(n => n.Sender))
            {
                Assert.Equal(Enumerable.Range(0, Messages), byWorker.Select(n => n.Sequence));
            }

            Assert.Equal(Workers * Messages, run.Arrivals.Count);
        }
    }

    [Fact]
    public void SameSeed_DeliveryObserverSeesIdenticalLog_IncludingTimesIdsAndAskRefs()
    {
        static List<string> Run()
        {
            ActorSystemOptions options = ActorSystemOptions.Deterministic(99) with { CostModel = new ConstantMessageCost(TimeSpan.FromMicroseconds(1)) };
            using ActorSystem system = ActorSystem.Create("det", options);
            var log = new LogObserver();
            system.AddDeliveryObserver(log);
            IActorRef echo = system.ActorOf(Props.Create<EchoActor>(), "echo");
            IActorRef sink = system.ActorOf(Props.Create(() => new SinkActor([])), "sink");
            var workers = Enumerable.Range(0, 3).Select(w => system.ActorOf(Props.Create(() => new WorkerActor(w, sink)), $"w{w}")).ToArray();
            IActorRef source = system.ActorOf(Props.Create(() => new SourceActor(workers)), "source");
            source.Tell("start", ActorRefs.NoSender);
            Task<Pong> ask = echo.Ask<Pong>(new Ping(1), TimeSpan.FromSeconds(1));
            system.Scheduler.ScheduleTellOnce(TimeSpan.FromMilliseconds(5), echo, new Ping(2), sink);
            system.Deterministic!.RunUntil(() => false);
            Assert.True(ask.IsCompletedSuccessfully);
            return log.Lines;
        }

        List<string> first = Run();
        Assert.Equal(first, Run());
        Assert.Contains(first, line => line.Contains("/temp/$ask1", StringComparison.Ordinal));
    }

    [Fact]
    public void Tell_CachedMessage_AllocatesNothing()
    {
        using ActorSystem system = ActorSystem.Create("det", ActorSystemOptions.Deterministic(1));
        IActorRef counter = system.ActorOf(Props.Create<CounterActor>(), "counter");
        object message = new();
        for (int warm = 0; warm < 100; warm++)
        {
            for (int i = 0; i < 10; i++)
            {
                counter.Tell(message, ActorRefs.NoSender);
            }

            system.Deterministic!.RunUntilIdle();
        }

        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 10; i++)
        {
            counter.Tell(message, ActorRefs.NoSender);
        }

        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        system.Deterministic!.RunUntilIdle();
        Assert.Equal(0, allocated);
    }

    [Fact]
    public void Schedule_RecordsStepActorAndMessageType()
    {
        using ActorSystem system = ActorSystem.Create("det", ActorSystemOptions.Deterministic(1) with { RecordSchedule = true });
        IActorRef echo = system.ActorOf(Props.Create<EchoActor>(), "echo");
        echo.Tell(new Ping(1), system.DeadLetters);
        system.Deterministic!.RunUntilIdle();
        Assert.Equal(
            ["1 0 /user/echo Create", "2 0 /user/echo TdxSim.Actors.Tests.Ping"],
            system.Deterministic.RecordedSchedule.Select(e => e.ToString()));
        Assert.Equal(2, system.Deterministic.StepCount);
    }

    [Fact]
    public void RecordedSchedule_WithoutRecording_ThrowsClearError()
    {
        using ActorSystem system = ActorSystem.Create("det", ActorSystemOptions.Deterministic(1));
        var error = Assert.Throws<InvalidOperationException>(() => system.Deterministic!.RecordedSchedule);
        Assert.Contains("RecordSchedule", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Timers_FireInVirtualTime_LoopJumpsClockWhenIdle()
    {
        using ActorSystem system = ActorSystem.Create("det", ActorSystemOptions.Deterministic(3));
        var times = new List<long>();
        IActorRef clockReader = system.ActorOf(Props.Create(() => new ClockReaderActor(times)), "reader");
        system.Scheduler.ScheduleTellOnce(TimeSpan.FromSeconds(10), clockReader, "late", ActorRefs.NoSender);
        system.Scheduler.ScheduleTellOnce(TimeSpan.FromSeconds(2), clockReader, "early", ActorRefs.NoSender);
        DeterministicDispatcher loop = system.Deterministic!;

        loop.RunUntilIdle();
        Assert.Empty(times);
        Assert.Equal(0, system.Clock.NowNanoseconds);

        Assert.False(loop.RunUntil(() => false));
        Assert.Equal([2_000_000_000L, 10_000_000_000L], times);
        Assert.Equal(10_000_000_000L, system.Clock.NowNanoseconds);
    }

    [Fact]
    public void RunFor_FiresRepeatingTimerOncePerInterval_AndEndsAtTheLimit()
    {
        using ActorSystem system = ActorSystem.Create("det", ActorSystemOptions.Deterministic(3));
        var times = new List<long>();
        IActorRef reader = system.ActorOf(Props.Create(() => new ClockReaderActor(times)), "reader");
        ICancelable ticks = system.Scheduler.ScheduleTellRepeatedly(TimeSpan.FromMilliseconds(100), TimeSpan.FromMilliseconds(100), reader, "tick", ActorRefs.NoSender);
        system.Deterministic!.RunFor(TimeSpan.FromMilliseconds(350));
        Assert.Equal([100_000_000L, 200_000_000L, 300_000_000L], times);
        Assert.Equal(350_000_000L, system.Clock.NowNanoseconds);
        ticks.Cancel();
        system.Deterministic.RunFor(TimeSpan.FromSeconds(1));
        Assert.Equal(3, times.Count);
    }

    [Fact]
    public async Task Ask_OwnerDriven_CompletesWhenTheLoopRuns()
    {
        using ActorSystem system = ActorSystem.Create("det", ActorSystemOptions.Deterministic(5));
        IActorRef echo = system.ActorOf(Props.Create<EchoActor>(), "echo");
        Task<Pong> reply = echo.Ask<Pong>(new Ping(4), TimeSpan.FromSeconds(1));
        Assert.False(reply.IsCompleted);
        Assert.True(system.Deterministic!.RunUntilCompleted(reply));
        Assert.Equal(4, (await reply).Id);
    }

    [Fact]
    public void Ask_Unanswered_TimesOutInVirtualTimeWithoutWaiting()
    {
        using ActorSystem system = ActorSystem.Create("det", ActorSystemOptions.Deterministic(5));
        IActorRef silent = system.ActorOf(Props.Create<CounterActor>(), "silent");
        Task<int> reply = silent.Ask<int>("hello?", TimeSpan.FromSeconds(30));
        var watch = System.Diagnostics.Stopwatch.StartNew();
        Assert.True(system.Deterministic!.RunUntilCompleted(reply));
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(5));
        Assert.IsType<AskTimeoutException>(reply.Exception!.InnerException);
        Assert.Equal(30_000_000_000L, system.Clock.NowNanoseconds);
    }

    [Fact]
    public async Task DedicatedThread_AsksCanBeAwaited_AndTerminateCompletes()
    {
        ActorSystem system = ActorSystem.Create("det", ActorSystemOptions.Deterministic(5));
        IActorRef echo = system.ActorOf(Props.Create<EchoActor>(), "echo");
        system.Deterministic!.StartDedicatedThread();
        Assert.True(system.Deterministic.IsRunningOnDedicatedThread);
        Pong pong = await echo.Ask<Pong>(new Ping(8), TimeSpan.FromSeconds(5));
        Assert.Equal(8, pong.Id);
        Assert.Throws<InvalidOperationException>(() => system.Deterministic.RunUntilIdle());
        await system.Terminate().WaitAsync(TimeSpan.FromSeconds(5));
        Assert.False(system.Deterministic.IsRunningOnDedicatedThread);
    }

    [Fact]
    public void CostModel_AdvancesVirtualTimePerUserMessage()
    {
        ActorSystemOptions options = ActorSystemOptions.Deterministic(9) with { CostModel = new ConstantMessageCost(TimeSpan.FromMicroseconds(1)) };
        using ActorSystem system = ActorSystem.Create("det", options);
        var times = new List<long>();
        IActorRef reader = system.ActorOf(Props.Create(() => new ClockReaderActor(times)), "reader");
        for (int i = 0; i < 3; i++)
        {
            reader.Tell("t", ActorRefs.NoSender);
        }

        system.Deterministic!.RunUntilIdle();
        Assert.Equal([0L, 1_000L, 2_000L], times);
        Assert.Equal(3_000L, system.Clock.NowNanoseconds);
    }

    [Fact]
    public void RunMethods_FromInsideAHandler_AreRejected()
    {
        using ActorSystem system = ActorSystem.Create("det", ActorSystemOptions.Deterministic(1));
        var errors = new List<Exception>();
        IActorRef nested = system.ActorOf(Props.Create(() => new ReentrantActor(errors)), "nested");
        nested.Tell("go", ActorRefs.NoSender);
        system.Deterministic!.RunUntilIdle();
        InvalidOperationException error = Assert.IsType<InvalidOperationException>(Assert.Single(errors));
        Assert.Contains("not reentrant", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task TellFromAnotherThread_IsQueuedAndRunByTheOwner()
    {
        using ActorSystem system = ActorSystem.Create("det", ActorSystemOptions.Deterministic(1));
        IActorRef counter = system.ActorOf(Props.Create<CounterActor>(), "counter");
        var sender = new Thread(() =>
        {
            for (int i = 0; i < 1000; i++)
            {
                counter.Tell(i, ActorRefs.NoSender);
            }
        });
        sender.Start();
        sender.Join();
        Task<int> count = counter.Ask<int>(new GetState(), TimeSpan.FromSeconds(1));
        Assert.True(system.Deterministic!.RunUntilCompleted(count));
        Assert.Equal(1000, await count);
    }

    [Fact]
    public async Task Supervision_RestartWorksUnderDeterministicDispatcher()
    {
        using ActorSystem system = ActorSystem.Create("det", ActorSystemOptions.Deterministic(11));
        IActorRef counter = system.ActorOf(Props.Create<CounterActor>(), "counter");
        counter.Tell("a", ActorRefs.NoSender);
        counter.Tell(new Fail("boom"), ActorRefs.NoSender);
        counter.Tell("b", ActorRefs.NoSender);
        Task<int> count = counter.Ask<int>(new GetState(), TimeSpan.FromSeconds(1));
        Assert.True(system.Deterministic!.RunUntilCompleted(count));
        Assert.Equal(1, await count);
        Assert.Equal(1, system.FailureCount);
    }

    [Fact]
    public void PipeTo_OfAnAskInsideAnActor_IsDeliveredWithinTheLoop_Reproducibly()
    {
        string[] Run()
        {
            using ActorSystem system = ActorSystem.Create("det", ActorSystemOptions.Deterministic(21) with { RecordSchedule = true });
            var results = new List<int>();
            IActorRef echo = system.ActorOf(Props.Create<EchoActor>(), "echo");
            IActorRef asker = system.ActorOf(Props.Create(() => new PipingActor(echo, results)), "asker");
            for (int i = 0; i < 5; i++)
            {
                asker.Tell(i, ActorRefs.NoSender);
            }

            system.Deterministic!.RunUntilIdle();
            // Delivered by the loop itself, not later by a thread-pool continuation.
            Assert.Equal(5, results.Count);
            return [.. system.Deterministic.RecordedSchedule.Select(e => e.ToString())];
        }

        Assert.Equal(Run(), Run());
    }

    [Fact]
    public void Options_CostModelWithoutDeterministicDispatcher_IsRejected()
    {
        var error = Assert.Throws<ArgumentException>(() => ActorSystem.Create("bad", new ActorSystemOptions { RecordSchedule = true }));
        Assert.Contains("deterministic", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Terminate_FromOwnerThread_RunsTheLoopToCompletion()
    {
        ActorSystem system = ActorSystem.Create("det", ActorSystemOptions.Deterministic(2));
        system.ActorOf(Props.Create(() => new ParentActor(Props.Create<EchoActor>(), "child", null)), "parent");
        Task done = system.Terminate();
        Assert.True(done.IsCompletedSuccessfully);
        Assert.True(system.IsTerminated);
    }

    private const int Workers = 4;
    private const int Messages = 15;

    private sealed record ScenarioResult(string[] Schedule, List<Numbered> Arrivals, ulong Fingerprint, long Steps);

    /// <summary>A source fans work out to workers, which each stream numbered results to a sink and to each other.</summary>
    private static ScenarioResult RunFanOutScenario(ulong seed)
    {
        ActorSystemOptions options = ActorSystemOptions.Deterministic(seed) with { RecordSchedule = true };
        using ActorSystem system = ActorSystem.Create("det", options);
        var arrivals = new List<Numbered>();
        IActorRef sink = system.ActorOf(Props.Create(() => new SinkActor(arrivals)), "sink");
        var workers = new IActorRef[Workers];
        for (int w = 0; w < Workers; w++)
        {
            int id = w;
            workers[w] = system.ActorOf(Props.Create(() => new WorkerActor(id, sink)), $"worker-{w}");
        }

        IActorRef source = system.ActorOf(Props.Create(() => new SourceActor(workers)), "source");
        source.Tell("start", ActorRefs.NoSender);
        DeterministicDispatcher loop = system.Deterministic!;
        loop.RunUntilIdle();
        string[] schedule = [.. loop.RecordedSchedule.Select(e => e.ToString())];
        return new ScenarioResult(schedule, arrivals, loop.Fingerprint, loop.StepCount);
    }

    private sealed class SourceActor : ReceiveActor
    {
        public SourceActor(IActorRef[] workers) => Receive<string>(_ =>
        {
            for (int i = 0; i < Messages; i++)
            {
                foreach (IActorRef worker in workers)
                {
                    worker.Tell(i);
                }
            }
        });
    }

    private sealed class WorkerActor : ReceiveActor
    {
        public WorkerActor(int id, IActorRef sink) => Receive<int>(i => sink.Tell(new Numbered(id, i)));
    }

    private sealed class SinkActor : ReceiveActor
    {
        public SinkActor(List<Numbered> arrivals) => Receive<Numbered>(arrivals.Add);
    }

    private sealed class ClockReaderActor : ReceiveActor
    {
        public ClockReaderActor(List<long> times) => ReceiveAny(_ => times.Add(Context.System.Clock.NowNanoseconds));
    }

    private sealed class LogObserver : Events.IDeliveryObserver
    {
        public List<string> Lines { get; } = [];

        public void OnDelivered(in Envelope envelope, IActorRef recipient) =>
            Lines.Add($"{envelope.SentAtNs} {envelope.CorrelationId} {envelope.Sender?.Path} -> {recipient.Path} {envelope.Message}");

        public void OnDeadLetter(in Envelope envelope, IActorRef recipient, Events.DeadLetterReason reason) =>
            Lines.Add($"dead {reason} {recipient.Path} {envelope.Message}");
    }

    private sealed class PipingActor : ReceiveActor
    {
        public PipingActor(IActorRef echo, List<int> results)
        {
            Receive<int>(i => echo.Ask<Pong>(new Ping(i), TimeSpan.FromSeconds(1)).PipeTo(Self));
            Receive<Pong>(p => results.Add(p.Id));
        }
    }

    private sealed class ReentrantActor : ReceiveActor
    {
        public ReentrantActor(List<Exception> errors) => ReceiveAny(_ =>
        {
            try
            {
                Context.System.Deterministic!.RunUntilIdle();
            }
            catch (InvalidOperationException e)
            {
                errors.Add(e);
            }
        });
    }
}
