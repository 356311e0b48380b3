using Akka.Actor;
using TdxSim.Runtime.Configuration;
using TdxSim.Runtime.Counters;

namespace TdxSim.Runtime.Tests;

/// <summary>The contention-free counters and correlation ids of the hot path.</summary>
public sealed class CountersAndIdsTests
{
    [Fact]
    public void A_striped_counter_counts_every_increment_of_many_threads()
    {
        var counter = new StripedCounter();
        const int Threads = 8, Each = 100_000;
        Parallel.For(0, Threads, new ParallelOptions { MaxDegreeOfParallelism = Threads }, _ =>
        {
            for (int i = 0; i < Each; i++)
            {
                counter.Increment();
            }
        });

        Assert.Equal((long)Threads * Each, counter.Value);
        counter.Add(5);
        Assert.Equal(((long)Threads * Each) + 5, counter.Value);
    }

    [Fact]
    public void A_striped_counter_stays_exact_when_more_threads_count_than_own_a_stripe()
    {
        // Threads beyond the owned stripes share stripes atomically; owners add with plain stores. Neither may lose an
        // add of the other, in this counter or in a second one the same threads use (stripe ownership is per thread).
        var counter = new StripedCounter();
        var other = new StripedCounter();
        int threads = StripedCounter.OwnedStripes + 40;
        const int Each = 20_000;
        using var start = new Barrier(threads);
        var workers = Enumerable.Range(0, threads).Select(t => new Thread(() =>
        {
            start.SignalAndWait();
            for (int i = 0; i < Each; i++)
            {
                counter.Increment();
                if ((i & 1) == 0)
                {
                    other.Add(3);
                }
            }
        })).ToList();
        workers.ForEach(w => w.Start());
        workers.ForEach(w => w.Join());

        Assert.Equal((long)threads * Each, counter.Value);
        Assert.Equal((long)threads * (Each / 2) * 3, other.Value);
    }

    [Fact]
    public async Task Concurrent_correlation_ids_are_unique_across_threads_and_systems()
    {
        using ActorSystem a = RuntimeConfig.CreateSystem("ids-a", RuntimeConfig.Build(deterministic: false, seed: 0));
        using ActorSystem b = RuntimeConfig.CreateSystem("ids-b", RuntimeConfig.Build(deterministic: false, seed: 0));
        TdxRuntime ra = TdxRuntime.Get(a), rb = TdxRuntime.Get(b);
        var seenA = new System.Collections.Concurrent.ConcurrentDictionary<long, byte>();
        var seenB = new System.Collections.Concurrent.ConcurrentDictionary<long, byte>();
        const int PerThread = 10_000;

        // Threads alternate between the two systems, so a thread's block of one system is left and taken up again.
        Parallel.For(0, 4, new ParallelOptions { MaxDegreeOfParallelism = 4 }, _ =>
        {
            for (int i = 0; i < PerThread; i++)
            {
                Assert.True(seenA.TryAdd(ra.NewCorrelationId(), 0));
                Assert.True(seenB.TryAdd(rb.NewCorrelationId(), 0));
            }
        });

        Assert.Equal(4 * PerThread, seenA.Count);
        Assert.Equal(4 * PerThread, seenB.Count);
        Assert.DoesNotContain(0L, seenA.Keys);
        await a.Terminate().WaitAsync(TimeSpan.FromSeconds(10));
        await b.Terminate().WaitAsync(TimeSpan.FromSeconds(10));
    }

    [Fact]
    public void Deterministic_correlation_ids_are_dense_in_the_order_drawn()
    {
        using ActorSystem system = RuntimeConfig.CreateSystem("ids-d", RuntimeConfig.Build(deterministic: true, seed: 3));
        TdxRuntime runtime = TdxRuntime.Get(system);
        long first = runtime.NewCorrelationId();
        for (long i = 1; i <= 100; i++)
        {
            Assert.Equal(first + i, runtime.NewCorrelationId());
        }

        runtime.Terminate(TimeSpan.FromSeconds(10));
    }
}
