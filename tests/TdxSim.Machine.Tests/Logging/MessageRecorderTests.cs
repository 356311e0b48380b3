using System.Text;
using System.Text.Json;
using TdxSim.Abi;
using TdxSim.Abi.Messages;
using TdxSim.Runtime.Tracing;
using TdxSim.Runtime.Time;
using TdxSim.Machine.Logging;

namespace TdxSim.Machine.Tests.Logging;

public sealed class MessageRecorderTests
{
    private static TdcallRequested Numbered(int thread, int i)
    {
        // TDG.VP.VMCALL selecting R12 through RCX, so the log shows R12 = the message's number.
        Gprs r = default;
        r[Gpr.Rax] = (ulong)TdcallLeaf.VpVmcall;
        r[Gpr.Rcx] = GprMask.R12;
        r[Gpr.R12] = (ulong)i;
        return new TdcallRequested(thread, r);
    }

    [Fact]
    public void AWrittenMessage_IsNoLongerKeptAliveByTheQueue()
    {
        // A queued record keeps its message alive; once written it must let go, or the ring keeps `capacity` messages
        // alive through every collection (they get promoted, and every collection becomes a gen1 one).
        var recorder = new MessageRecorder(new MonotonicClock(), [new JsonLinesLogSink(Stream.Null)], new MessageRecorderOptions { Capacity = 64 });
        WeakReference[] delivered = DeliverUnreferenced(recorder, 40);
        Assert.True(recorder.WaitForWriter(TimeSpan.FromSeconds(10)));

        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        Assert.Equal(0, delivered.Count(r => r.IsAlive));
        Assert.True(recorder.Complete().IsLossless);
    }

    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
    private static WeakReference[] DeliverUnreferenced(MessageRecorder recorder, int count)
    {
        var refs = new WeakReference[count];
        for (int i = 0; i < count; i++)
        {
            TdcallRequested message = Numbered(0, i);
            refs[i] = new WeakReference(message);
            recorder.OnDelivered(new Delivery(message, Td.Vcpu(0), 1, 0), Td.Module);
        }

        return refs;
    }

    [Fact]
    public void ConcurrentDelivery_FromFourThreads_IsWrittenOnceEachInStrictSeqOrder()
    {
        const int Threads = 4;
        const int PerThread = 5000;
        var stream = new MemoryStream();
        var memory = new MemoryLogSink();
        var recorder = new MessageRecorder(new MonotonicClock(), [new JsonLinesLogSink(stream), memory], new MessageRecorderOptions { Capacity = 256 });
        Concurrently.Run(Threads, t =>
        {
            for (int i = 0; i < PerThread; i++)
            {
                recorder.OnDelivered(new Delivery(Numbered(t, i), Td.Vcpu(t), (long)t, 0), Td.Module);
            }
        });

        MessageLogReport report = recorder.Complete();
        Assert.True(report.IsLossless, report.ToString());
        Assert.Equal(Threads * PerThread, report.Recorded);
        Assert.All(report.Sinks, s => Assert.Equal(Threads * PerThread, s.Written));

        string[] lines = Encoding.UTF8.GetString(stream.ToArray()).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(Threads * PerThread, lines.Length);
        long previousSeq = 0;
        long previousTime = long.MinValue;
        int[] nextPerThread = new int[Threads];
        foreach (string line in lines)
        {
            JsonElement e = JsonDocument.Parse(line).RootElement;
            long seq = e.GetProperty("seq").GetInt64();
            long time = e.GetProperty("t_ns").GetInt64();
            Assert.Equal(previousSeq + 1, seq);
            Assert.True(time >= previousTime, $"t_ns went backwards at seq {seq}");
            int thread = e.GetProperty("vcpu").GetInt32();
            int number = Convert.ToInt32(e.GetProperty("regs").GetProperty("r12").GetString(), 16);

            // Each thread delivers its messages one after another, so they must appear in that order.
            Assert.Equal(nextPerThread[thread], number);
            nextPerThread[thread]++;
            previousSeq = seq;
            previousTime = time;
        }

        Assert.All(nextPerThread, n => Assert.Equal(PerThread, n));
        Assert.Equal(Enumerable.Range(1, Threads * PerThread).Select(i => (long)i), memory.Records.Select(r => r.Seq));
    }

    [Fact]
    public void SlowSink_AppliesBackpressure_AndLosesNothing()
    {
        var slow = new SlowSink(TimeSpan.FromMilliseconds(1));
        var recorder = new MessageRecorder(new MonotonicClock(), [slow], new MessageRecorderOptions { Capacity = 4 });
        for (int i = 0; i < 100; i++)
        {
            recorder.OnDelivered(new Delivery(new StartVcpu(0), null, i, 0), Td.Vcpu(0));
        }

        MessageLogReport report = recorder.Complete();
        Assert.True(report.IsLossless, report.ToString());
        Assert.True(report.BackpressureWaits > 0, "a full queue must make the delivering thread wait");
        Assert.Equal(Enumerable.Range(1, 100).Select(i => (long)i), slow.Seqs);
        Assert.Equal(100, report.Sinks[0].Written);
    }

    [Fact]
    public void IoFailure_IsCountedAndReported_AndOtherSinksKeepEverything()
    {
        var failing = new JsonLinesLogSink(new FailingStream(successfulWrites: 1), "broken.jsonl");
        var memory = new MemoryLogSink();
        var recorder = new MessageRecorder(new ManualClock(), [failing, memory], new MessageRecorderOptions { Capacity = 8 });
        for (int i = 0; i < 2000; i++)
        {
            recorder.OnDelivered(new Delivery(new StartVcpu(0), null, i, 0), Td.Vcpu(0));
        }

        MessageLogReport report = recorder.Complete();
        Assert.False(report.IsLossless);
        SinkReport broken = report.Sinks[0];
        Assert.IsType<IOException>(broken.FirstError);
        Assert.True(broken.Lost > 0);
        Assert.Equal(2000, broken.Written + broken.Lost);
        Assert.Contains("broken.jsonl", report.ToString(), StringComparison.Ordinal);
        Assert.Contains("lost", report.ToString(), StringComparison.Ordinal);
        Assert.Same(broken.FirstError, report.FirstError);
        Assert.Equal(2000, memory.Records.Count);
        Assert.Equal(2000, report.Sinks[1].Written);
    }

    [Fact]
    public void DeliveriesAfterComplete_AreCountedAsLate()
    {
        var memory = new MemoryLogSink();
        var recorder = new MessageRecorder(new ManualClock(), [memory]);
        recorder.OnDelivered(new Delivery(new StartVcpu(0), null, 1, 0), Td.Vcpu(0));
        MessageLogReport first = recorder.Complete();
        recorder.OnDelivered(new Delivery(new StartVcpu(0), null, 2, 0), Td.Vcpu(0));

        Assert.True(first.IsLossless);
        Assert.Same(first, recorder.Complete());
        Assert.Single(memory.Records);
    }

    [Fact]
    public async Task LateDelivery_WhileCompleting_MakesTheReportLossy()
    {
        var gate = new GateSink();
        var recorder = new MessageRecorder(new ManualClock(), [gate], new MessageRecorderOptions { Capacity = 1 });
        recorder.OnDelivered(new Delivery(new StartVcpu(0), null, 1, 0), Td.Vcpu(0));
        Assert.True(gate.Entered.Wait(TimeSpan.FromSeconds(10)));
        Task<MessageLogReport> completion = Task.Run(recorder.Complete);
        Assert.True(SpinWait.SpinUntil(() => recorder.IsClosed, TimeSpan.FromSeconds(10)));
        recorder.OnDelivered(new Delivery(new StartVcpu(0), null, 2, 0), Td.Vcpu(0));
        gate.Release.Set();
        MessageLogReport report = await completion;

        Assert.Equal(1, report.Late);
        Assert.Equal(1, report.Recorded);
        Assert.False(report.IsLossless);
        Assert.Contains("after completion", report.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void CompletionTimeout_CountsWhatIsStillQueued()
    {
        var gate = new GateSink();
        var recorder = new MessageRecorder(new ManualClock(), [gate], new MessageRecorderOptions { Capacity = 8, CompletionTimeout = TimeSpan.FromMilliseconds(50) });
        for (int i = 0; i < 4; i++)
        {
            recorder.OnDelivered(new Delivery(new StartVcpu(0), null, i, 0), Td.Vcpu(0));
        }

        Assert.True(gate.Entered.Wait(TimeSpan.FromSeconds(10)));
        MessageLogReport report = recorder.Complete();
        gate.Release.Set();

        Assert.Equal(4, report.Recorded);
        Assert.False(report.IsLossless);
        Assert.True(report.Unwritten >= 1, report.ToString());
    }

    /// <summary>A sink that signals when it gets a record and then holds the writer thread until released.</summary>
    private sealed class GateSink : MessageLogSink
    {
        public GateSink()
            : base("gate")
        {
        }

        public ManualResetEventSlim Entered { get; } = new();

        public ManualResetEventSlim Release { get; } = new();

        protected override void Dispose(bool disposing)
        {
            // Never leave the writer thread blocked once the recorder lets go of the sink.
            Release.Set();
        }

        protected override void WriteRecord(in MessageRecord record)
        {
            Entered.Set();
            Release.Wait();
        }
    }

    [Fact]
    public void DeadLetters_AreCountedNotLogged()
    {
        var memory = new MemoryLogSink();
        var recorder = new MessageRecorder(new ManualClock(), [memory]);
        recorder.OnUndelivered(new Delivery(new StopVcpu(0), null, 1, 0), Td.Vcpu(0), UndeliveredReason.DeadLetter);
        MessageLogReport report = recorder.Complete();
        Assert.Equal(1, report.DeadLetters);
        Assert.Empty(memory.Records);
        Assert.Equal(0, report.Recorded);
    }

    [Fact]
    public void TimeComesFromTheGivenClock()
    {
        var clock = new ManualClock(5_000);
        var memory = new MemoryLogSink();
        var recorder = new MessageRecorder(clock, [memory]);
        recorder.OnDelivered(new Delivery(new StartVcpu(0), null, 1, 10), Td.Vcpu(0));
        clock.AdvanceBy(250);
        recorder.OnDelivered(new Delivery(new StartVcpu(1), Td.Vcpu(0), 2, 20), Td.Vcpu(1));
        recorder.Complete();

        Assert.Equal([5_000L, 5_250L], memory.Records.Select(r => r.TimeNs));
        Assert.Equal([10L, 20L], memory.Records.Select(r => r.SentAtNs));
        Assert.Null(memory.Records[0].From);
        Assert.Equal("vcpu/0", memory.Records[1].From!.Name);
        Assert.Equal("vcpu/1", memory.Records[1].To.Name);
    }

    [Fact]
    public void Clock_CanBeAttachedBeforeTheFirstDelivery_ButNotSwappedAfterwards()
    {
        var memory = new MemoryLogSink();
        var recorder = new MessageRecorder([memory]);
        var virtualClock = new ManualClock(123_000);
        recorder.Clock = virtualClock;
        recorder.OnDelivered(new Delivery(new StartVcpu(0), null, 1, 0), Td.Vcpu(0));

        recorder.Clock = virtualClock; // the same clock again is harmless
        var ex = Assert.Throws<InvalidOperationException>(() => recorder.Clock = new ManualClock());
        Assert.Contains("after 1 messages", ex.Message, StringComparison.Ordinal);
        recorder.Complete();
        Assert.Equal(123_000, Assert.Single(memory.Records).TimeNs);
    }

    [Fact]
    public void WithoutAnAttachedClock_SendTimesAreWithheld()
    {
        // The envelopes were stamped by a clock the recorder does not know, so their send times mean nothing here.
        var memory = new MemoryLogSink();
        var recorder = new MessageRecorder([memory]);
        recorder.OnDelivered(new Delivery(new StartVcpu(0), null, 1, 999), Td.Vcpu(0));
        recorder.Complete();
        Assert.Equal(-1, Assert.Single(memory.Records).SentAtNs);
    }

    [Fact]
    public void Create_WithAnUnwritablePath_FailsBeforeRecording()
    {
        string path = Path.Combine(Path.GetTempPath(), "tdxsim-no-such-dir-" + Guid.NewGuid().ToString("N"), "log.jsonl");
        Assert.Throws<DirectoryNotFoundException>(() => MessageRecorder.Create(new ManualClock(), path, null));
    }

    [Fact]
    public void Create_WritesBothFiles()
    {
        string dir = Directory.CreateTempSubdirectory("tdxsim-log-").FullName;
        try
        {
            string log = Path.Combine(dir, "run.jsonl");
            string trace = Path.Combine(dir, "run.trace.json");
            var clock = new ManualClock();
            MessageLogReport report;
            using (var recorder = MessageRecorder.Create(clock, log, trace))
            {
                new FlowDriver(recorder, clock).ParavirtIo(0, 1, 0x3F8, 0x41);
                report = recorder.Complete();
            }

            Assert.True(report.IsLossless, report.ToString());
            Assert.Equal([log, trace], report.Sinks.Select(s => s.Name));
            Assert.Equal(4, File.ReadAllLines(log).Length);
            using JsonDocument doc = JsonDocument.Parse(File.ReadAllText(trace));
            Assert.True(doc.RootElement.GetProperty("traceEvents").GetArrayLength() > 4);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void Options_AreValidated()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new MessageRecorder(new ManualClock(), [], new MessageRecorderOptions { Capacity = 0 }));
        Assert.Throws<ArgumentException>(() => new MessageRecorder(new ManualClock(), [], new MessageRecorderOptions { RootPath = "user/machine" }));
    }
}
