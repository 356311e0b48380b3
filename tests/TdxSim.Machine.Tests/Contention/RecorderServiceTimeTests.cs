using TdxSim.Abi.Messages;
using TdxSim.Machine.Logging;
using TdxSim.Machine.Tests.Logging;
using TdxSim.Runtime.Time;
using TdxSim.Runtime.Tracing;

namespace TdxSim.Machine.Tests.Contention;

/// <summary>With service times, the recorder writes a record only once its handler has returned, in order.</summary>
public sealed class RecorderServiceTimeTests
{
    [Fact]
    public void Record_WaitsForItsHandler_ThenCarriesItsServiceTime_InOrder()
    {
        var clock = new ManualClock();
        var memory = new MemoryLogSink();
        var recorder = new MessageRecorder(clock, [memory], new MessageRecorderOptions { ServiceTimes = true });
        Assert.True(((IDeliveryObserver)recorder).WantsHandled);

        // First message: delivered on another thread, its handler still running.
        var delivered = new ManualResetEventSlim();
        var finish = new ManualResetEventSlim();
        var handler = new Thread(() =>
        {
            recorder.OnDelivered(new Delivery(new StartVcpu(0), null, 1, 0), Td.Vcpu(0));
            delivered.Set();
            finish.Wait();
            recorder.OnHandled(Td.Vcpu(0), 700);
        });
        handler.Start();
        delivered.Wait();

        // Second message, delivered and handled here: it may not overtake the first.
        clock.AdvanceBy(5);
        recorder.OnDelivered(new Delivery(new StartVcpu(1), null, 2, 0), Td.Vcpu(1));
        recorder.OnHandled(Td.Vcpu(1), 30);
        Thread.Sleep(50);
        Assert.Empty(memory.Records);

        finish.Set();
        handler.Join();
        Assert.True(recorder.WaitForWriter(TimeSpan.FromSeconds(10)));
        recorder.Complete();
        Assert.Equal([1L, 2L], memory.Records.Select(r => r.Seq));
        Assert.Equal([700L, 30L], memory.Records.Select(r => r.ServiceNs));
    }

    [Fact]
    public void SmallRing_ManyThreads_EveryRecordKeepsItsOwnServiceTime_InSeqOrder()
    {
        // A ring of 8 slots reused thousands of times while the writer formats outside its lock: a slot handed back
        // too early would show up as a record carrying another message's correlation or service time.
        const int Threads = 3;
        const int PerThread = 4000;
        var memory = new MemoryLogSink();
        var recorder = new MessageRecorder(new MonotonicClock(), [memory], new MessageRecorderOptions { ServiceTimes = true, Capacity = 8 });
        Concurrently.Run(Threads, t =>
        {
            for (int i = 0; i < PerThread; i++)
            {
                long id = (t * 1_000_000L) + i + 1;
                recorder.OnDelivered(new Delivery(new StartVcpu(t), null, id, 0), Td.Vcpu(t));
                if (i % 97 == 0)
                {
                    Thread.Yield();
                }

                recorder.OnHandled(Td.Vcpu(t), id * 3);
            }
        });

        MessageLogReport report = recorder.Complete();
        Assert.True(report.IsLossless, report.ToString());
        Assert.Equal(Enumerable.Range(1, Threads * PerThread).Select(i => (long)i), memory.Records.Select(r => r.Seq));
        Assert.All(memory.Records, r => Assert.Equal(r.CorrelationId * 3, r.ServiceNs));
        long[] next = new long[Threads];
        foreach (MessageRecord r in memory.Records)
        {
            int t = (int)(r.CorrelationId / 1_000_000);
            Assert.Equal(next[t] + 1, r.CorrelationId % 1_000_000);
            next[t]++;
        }
    }

    [Fact]
    public void WithoutServiceTimes_RecordsFlowAtOnce_WithNoServiceTime()
    {
        var memory = new MemoryLogSink();
        var recorder = new MessageRecorder(new ManualClock(), [memory]);
        Assert.False(((IDeliveryObserver)recorder).WantsHandled);
        recorder.OnDelivered(new Delivery(new StartVcpu(0), null, 1, 0), Td.Vcpu(0));
        Assert.True(recorder.WaitForWriter(TimeSpan.FromSeconds(10)));
        recorder.Complete();
        Assert.Equal(-1, Assert.Single(memory.Records).ServiceNs);
    }
}
