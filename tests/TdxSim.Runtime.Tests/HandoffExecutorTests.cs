using Akka.Actor;
using Akka.Configuration;
using Akka.Dispatch;
using TdxSim.Runtime.Configuration;
using TdxSim.Runtime.Dispatch;

namespace TdxSim.Runtime.Tests;

/// <summary>The hand-off executor: a mailbox scheduled by a run goes next on the same thread, within bounds.</summary>
public sealed class HandoffExecutorTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(10);

    /// <summary>A runnable that records its thread and, when run, schedules what it is told to.</summary>
    private sealed class Step(Action body) : IRunnable
    {
        public int Thread { get; private set; } = -1;

        public int Runs { get; private set; }

        public void Run()
        {
            Thread = Environment.CurrentManagedThreadId;
            Runs++;
            body();
        }

#pragma warning disable CA1033
        void System.Threading.IThreadPoolWorkItem.Execute() => Run();
#pragma warning restore CA1033

    }

    [Fact]
    public void What_a_run_schedules_runs_next_on_its_thread()
    {
        var executor = new HandoffExecutor("t", maxThreads: 2, maxHandoffs: 64);
        using var done = new ManualResetEventSlim();
        Step? third = null, second = null;
        third = new Step(done.Set);
        second = new Step(() => executor.Execute(third));
        var first = new Step(() => executor.Execute(second));

        executor.Execute(first);
        Assert.True(done.Wait(Wait));
        Assert.Equal(first.Thread, second.Thread);
        Assert.Equal(first.Thread, third.Thread);
        Assert.Equal(2, executor.Handoffs);
        Assert.Equal(1, executor.Queued);
        executor.Shutdown();
    }

    [Fact]
    public void Only_the_last_scheduled_is_handed_off_the_earlier_one_is_queued()
    {
        var executor = new HandoffExecutor("t", maxThreads: 2, maxHandoffs: 64);
        using var both = new CountdownEvent(2);
        var early = new Step(() => both.Signal());
        var late = new Step(() => both.Signal());
        var first = new Step(() =>
        {
            executor.Execute(early);
            executor.Execute(late);
        });

        executor.Execute(first);
        Assert.True(both.Wait(Wait));
        Assert.Equal(1, early.Runs);
        Assert.Equal(1, late.Runs);
        Assert.Equal(first.Thread, late.Thread);
        Assert.Equal(1, executor.Handoffs);
        Assert.Equal(2, executor.Queued); // first, then early displaced to the queue
        executor.Shutdown();
    }

    [Fact]
    public void A_run_that_reschedules_itself_goes_to_the_back_of_the_queue()
    {
        var executor = new HandoffExecutor("t", maxThreads: 2, maxHandoffs: 64);
        using var done = new ManualResetEventSlim();
        Step? self = null;
        self = new Step(() =>
        {
            if (self!.Runs < 3)
            {
                executor.Execute(self);
            }
            else
            {
                done.Set();
            }
        });

        executor.Execute(self);
        Assert.True(done.Wait(Wait));
        Assert.Equal(3, self.Runs);
        Assert.Equal(0, executor.Handoffs);
        Assert.Equal(3, executor.Queued);
        executor.Shutdown();
    }

    [Fact]
    public void A_ping_pong_with_nothing_waiting_keeps_its_thread_past_max_handoffs()
    {
        var executor = new HandoffExecutor("t", maxThreads: 1, maxHandoffs: 5);
        using var done = new ManualResetEventSlim();
        const int Rounds = 40;
        int count = 0;
        var threads = new HashSet<int>();
        Step? ping = null, pong = null;
        ping = new Step(() =>
        {
            threads.Add(Environment.CurrentManagedThreadId);
            if (++count < Rounds)
            {
                executor.Execute(pong!);
            }
            else
            {
                done.Set();
            }
        });
        pong = new Step(() => executor.Execute(ping));

        executor.Execute(ping);
        Assert.True(done.Wait(Wait));

        // Every run after the first is a hand-off: a limit that only matters when work waits never fired.
        Assert.Equal(1, executor.Queued);
        Assert.Equal((2 * Rounds) - 2, executor.Handoffs);
        Assert.Single(threads);
        executor.Shutdown();
    }

    [Theory]
    [InlineData(0)]
    [InlineData(5)]
    public void Work_waiting_behind_a_ping_pong_runs_after_at_most_max_handoffs(int limit)
    {
        // One worker, so the order is exact: the ping-pong's first run queues `other` (pong displaces it from the
        // slot); the worker must leave the ping-pong for it within limit + 1 hand-offs.
        var executor = new HandoffExecutor("t", maxThreads: 1, maxHandoffs: limit);
        using var done = new ManualResetEventSlim();
        const int Rounds = 40;
        int count = 0;
        int otherRanAt = -1;
        var other = new Step(() => otherRanAt = count);
        Step? ping = null, pong = null;
        ping = new Step(() =>
        {
            if (++count == 1)
            {
                executor.Execute(other);
            }

            if (count < Rounds)
            {
                executor.Execute(pong!);
            }
            else
            {
                done.Set();
            }
        });
        pong = new Step(() => executor.Execute(ping));

        executor.Execute(ping);
        Assert.True(done.Wait(Wait));
        Assert.Equal(1, other.Runs);
        Assert.InRange(otherRanAt, 1, 1 + ((limit + 2) / 2));
        executor.Shutdown();
    }

    [Fact]
    public void Never_more_workers_than_its_maximum_and_all_work_runs()
    {
        var executor = new HandoffExecutor("t", maxThreads: 2, maxHandoffs: 64);
        const int Jobs = 16;
        using var done = new CountdownEvent(Jobs);
        int running = 0, most = 0;
        for (int i = 0; i < Jobs; i++)
        {
            executor.Execute(new Step(() =>
            {
                int now = Interlocked.Increment(ref running);
                int seen;
                while ((seen = Volatile.Read(ref most)) < now && Interlocked.CompareExchange(ref most, now, seen) != seen)
                {
                }

                Thread.Sleep(5);
                Interlocked.Decrement(ref running);
                done.Signal();
            }));
        }

        Assert.True(done.Wait(Wait));
        Assert.InRange(most, 1, 2);
        Assert.InRange(executor.ThreadsStarted, 1, 2);
        executor.Shutdown();
    }

    [Fact]
    public void Idle_workers_end_and_new_work_starts_one_again()
    {
        var executor = new HandoffExecutor("t", maxThreads: 2, maxHandoffs: 64);
        using var first = new ManualResetEventSlim();
        executor.Execute(new Step(first.Set));
        Assert.True(first.Wait(Wait));

        // A worker ends after a second with nothing to run (checked at its quarter-second parks).
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(5);
        while (executor.LiveThreads > 0 && DateTime.UtcNow < deadline)
        {
            Thread.Sleep(50);
        }

        Assert.Equal(0, executor.LiveThreads);
        int started = executor.ThreadsStarted;
        using var second = new ManualResetEventSlim();
        executor.Execute(new Step(second.Set));
        Assert.True(second.Wait(Wait));
        Assert.True(executor.ThreadsStarted > started);
        executor.Shutdown();
    }

    [Fact]
    public void After_shutdown_queued_work_still_runs_and_the_workers_end()
    {
        var executor = new HandoffExecutor("t", maxThreads: 2, maxHandoffs: 64);
        using var ran = new ManualResetEventSlim();
        executor.Execute(new Step(() => { }));
        executor.Shutdown();
        executor.Execute(new Step(ran.Set));
        Assert.True(ran.Wait(Wait));
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(5);
        while (executor.LiveThreads > 0 && DateTime.UtcNow < deadline)
        {
            Thread.Sleep(20);
        }

        Assert.Equal(0, executor.LiveThreads);
    }

    [Theory]
    [InlineData("threads = -1", "handoff-executor.threads")]
    [InlineData("threads = 5000", "handoff-executor.threads")]
    [InlineData("linger-us = -3", "handoff-executor.linger-us")]
    public void A_bad_executor_setting_is_refused_when_the_system_starts(string setting, string named)
    {
        Config user = RuntimeConfig.ParseUser($"tdxsim.concurrent-dispatcher.handoff-executor.{setting}", "my.conf");
        var e = Assert.Throws<RuntimeConfigException>(() => RuntimeConfig.CreateSystem("bad", RuntimeConfig.Build(false, 0, user)));
        Assert.Contains(named, e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public void A_negative_limit_is_refused_when_the_system_starts()
    {
        Config user = RuntimeConfig.ParseUser("tdxsim.concurrent-dispatcher.handoff-executor.max-handoffs = -1", "my.conf");
        var e = Assert.Throws<RuntimeConfigException>(() => RuntimeConfig.CreateSystem("bad", RuntimeConfig.Build(false, 0, user)));
        Assert.Contains("max-handoffs", e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', e.Message);
    }

    /// <summary>Replies to every int with the int plus one, noting its thread.</summary>
    private sealed class Bouncer(List<int> threads) : TdxActor
    {
        protected override bool AroundReceive(Receive receive, object message)
        {
            lock (threads)
            {
                threads.Add(Environment.CurrentManagedThreadId);
            }

            return base.AroundReceive(receive, message);
        }

        public Bouncer(List<int> threads, IActorRef? peer, TaskCompletionSource<int> done, int rounds)
            : this(threads)
        {
            Receive<IActorRef>(p => peer = p);
            Receive<int>(n =>
            {
                if (n >= rounds)
                {
                    done.TrySetResult(n);
                }
                else
                {
                    (peer ?? Sender).Tell(n + 1, Self);
                }
            });
        }
    }

    [Fact]
    public async Task Two_actors_of_the_td_dispatcher_ping_pong_on_one_thread_between_bounded_switches()
    {
        using ActorSystem system = RuntimeConfig.CreateSystem("handoff", RuntimeConfig.Build(deterministic: false, seed: 0));
        TdxRuntime runtime = TdxRuntime.Get(system);
        var threads = new List<int>();
        var done = new TaskCompletionSource<int>(TaskCreationOptions.RunContinuationsAsynchronously);
        const int Rounds = 2_000;
        IActorRef a = system.ActorOf(runtime.Configure(Props.Create(() => new Bouncer(threads, null, done, Rounds))), "a");
        IActorRef b = system.ActorOf(runtime.Configure(Props.Create(() => new Bouncer(threads, null, done, Rounds))), "b");
        a.Tell(b);
        b.Tell(a);
        a.Tell(0, b);
        Assert.Equal(Rounds, await done.Task.WaitAsync(Wait));

        int switches;
        lock (threads)
        {
            switches = threads.Zip(threads.Skip(1)).Count(p => p.First != p.Second);
        }

        // With 64 hand-offs in a row at most, the pair leaves its thread about once per 65 messages, not once per one.
        Assert.InRange(switches, 0, Rounds / 20);
        await system.Terminate().WaitAsync(Wait);
    }
}
