using Akka.Actor;
using TdxSim.Runtime.Configuration;
using TdxSim.Runtime.Dispatch;

namespace TdxSim.Runtime.Tests;

/// <summary>The tests that switch every mailbox of the process to Akka's own run do not share the process with others.</summary>
[CollectionDefinition(nameof(MailboxRunnerCollection), DisableParallelization = true)]
public sealed class MailboxRunnerCollection;

/// <summary>
/// TdxSim's mailbox run (Akka's, without draining an empty system queue twice per message) against Akka's own: the
/// same lifecycle, supervision and ordering, on the concurrent and the deterministic dispatcher.
/// </summary>
[Collection(nameof(MailboxRunnerCollection))]
public sealed class MailboxRunnerTests : IDisposable
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(10);

    public void Dispose() => MailboxRunner.ForceAkkaRun = false;

    /// <summary>A system on the concurrent (hand-off) dispatcher whose mailboxes run through Akka's own run or TdxSim's.</summary>
    private static ActorSystem ConcurrentSystem(string name, bool akkaRun, out TdxRuntime runtime)
    {
        MailboxRunner.ForceAkkaRun = akkaRun;
        ActorSystem system = RuntimeConfig.CreateSystem(name, RuntimeConfig.Build(deterministic: false, seed: 0));
        runtime = TdxRuntime.Get(system);
        return system;
    }

    [Fact]
    public void Binds_to_the_pinned_Akka()
    {
        // Every accessor found its member in Akka 1.5.75; were one missing, mailboxes would fall back to Akka's run.
        Assert.True(MailboxRunner.Available);
    }

    /// <summary>Watches a child, stops it, and reports the Terminated (a system message on both sides).</summary>
    private sealed class Watcher : TdxActor
    {
        public Watcher(TaskCompletionSource<string> terminated)
        {
            IActorRef child = Context.ActorOf(Runtime.Configure(Props.Create(() => new Echo())), "child");
            Context.Watch(child);
            Receive<string>(s => s == "stop", _ => Context.Stop(child));
            Receive<Terminated>(t => terminated.TrySetResult(t.ActorRef.Path.Name));
        }
    }

    private sealed class Echo : TdxActor
    {
        public Echo() => ReceiveAny(m => Sender.Tell(m, Self));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_watched_child_that_stops_is_reported_terminated(bool akkaRun)
    {
        using ActorSystem system = ConcurrentSystem("watch", akkaRun, out TdxRuntime runtime);
        var terminated = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        IActorRef watcher = system.ActorOf(runtime.Configure(Props.Create(() => new Watcher(terminated))), "watcher");
        watcher.Tell("stop");
        Assert.Equal("child", await terminated.Task.WaitAsync(Wait));
        await system.Terminate().WaitAsync(Wait);
    }

    /// <summary>Fails on "boom"; counts its restarts; answers every other message with (restarts, message).</summary>
    private sealed class Fragile : TdxActor
    {
        private readonly int[] _restarts;

        public Fragile(int[] restarts)
        {
            _restarts = restarts;
            Receive<string>(s => s == "boom", _ => throw new InvalidOperationException("boom"));
            Receive<int>(n => Sender.Tell((Volatile.Read(ref _restarts[0]), n), Self));
        }

        protected override void PostRestart(Exception reason)
        {
            Interlocked.Increment(ref _restarts[0]);
            base.PostRestart(reason);
        }
    }

    /// <summary>Supervises a <see cref="Fragile"/> child (Akka's default: restart), forwarding to it and collecting replies.</summary>
    private sealed class Parent : TdxActor
    {
        public Parent(int[] restarts, List<(int Restarts, int N)> replies, int expected, TaskCompletionSource done)
        {
            IActorRef child = Context.ActorOf(Runtime.Configure(Props.Create(() => new Fragile(restarts))), "fragile");
            Receive<string>(s => child.Tell(s, Self));
            Receive<int>(n => child.Tell(n, Self));
            Receive<(int Restarts, int N)>(r =>
            {
                replies.Add(r);
                if (replies.Count == expected)
                {
                    done.TrySetResult();
                }
            });
        }
    }

    private static List<(int Restarts, int N)> RunSupervision(bool deterministic)
    {
        using ActorSystem system = RuntimeConfig.CreateSystem("restart", RuntimeConfig.Build(deterministic, seed: 5));
        TdxRuntime runtime = TdxRuntime.Get(system);
        int[] restarts = [0];
        var replies = new List<(int, int)>();
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        IActorRef parent = system.ActorOf(runtime.Configure(Props.Create(() => new Parent(restarts, replies, 200, done))), "parent");
        for (int i = 0; i < 100; i++)
        {
            parent.Tell(i);
        }

        parent.Tell("boom");
        for (int i = 100; i < 200; i++)
        {
            parent.Tell(i);
        }

        if (runtime.Deterministic is { } loop)
        {
            Assert.True(loop.RunUntil(done.Task, runtime.VirtualTime, Wait), "the deterministic run went idle before every reply");
            Assert.True(runtime.Terminate(Wait));
        }
        else
        {
            Assert.True(done.Task.Wait(Wait), "not every reply arrived");
            Assert.True(system.Terminate().Wait(Wait));
        }

        return replies;
    }

    [Theory]
    [InlineData(false, false)]
    [InlineData(false, true)]
    [InlineData(true, false)]
    [InlineData(true, true)]
    public void A_child_that_fails_is_restarted_between_its_messages_and_loses_none_of_the_rest(bool deterministic, bool akkaRun)
    {
        MailboxRunner.ForceAkkaRun = akkaRun;
        List<(int Restarts, int N)> replies = RunSupervision(deterministic);

        // Every message but the failing one is answered, in order; the failure's restart (the Recreate system message
        // processed between two messages) separates the answers before it from those after it.
        Assert.Equal(Enumerable.Range(0, 200), replies.Select(r => r.N));
        Assert.All(replies.Take(100), r => Assert.Equal(0, r.Restarts));
        Assert.All(replies.Skip(100), r => Assert.Equal(1, r.Restarts));
    }

    [Fact]
    public void A_deterministic_run_gives_the_same_order_on_both_mailbox_runs()
    {
        MailboxRunner.ForceAkkaRun = true;
        List<(int Restarts, int N)> akka = RunSupervision(deterministic: true);
        MailboxRunner.ForceAkkaRun = false;
        Assert.Equal(akka, RunSupervision(deterministic: true));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Two_senders_on_their_own_threads_keep_their_order_and_lose_nothing(bool akkaRun)
    {
        using ActorSystem system = ConcurrentSystem("order", akkaRun, out TdxRuntime runtime);
        const int Each = 20_000;
        var seen = new List<(int Sender, int N)>();
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        IActorRef sink = system.ActorOf(runtime.Configure(Props.Create(() => new Collector(seen, 2 * Each, done))), "sink");
        Task[] senders = [.. Enumerable.Range(0, 2).Select(s => Task.Run(() =>
        {
            for (int i = 0; i < Each; i++)
            {
                sink.Tell((s, i));
            }
        }))];
        await Task.WhenAll(senders).WaitAsync(Wait);
        await done.Task.WaitAsync(Wait);

        for (int s = 0; s < 2; s++)
        {
            Assert.Equal(Enumerable.Range(0, Each), seen.Where(m => m.Sender == s).Select(m => m.N));
        }

        await system.Terminate().WaitAsync(Wait);
    }

    private sealed class Collector : TdxActor
    {
        public Collector(List<(int Sender, int N)> seen, int expected, TaskCompletionSource done) =>
            Receive<(int Sender, int N)>(m =>
            {
                seen.Add(m);
                if (seen.Count == expected)
                {
                    done.TrySetResult();
                }
            });
    }
}
