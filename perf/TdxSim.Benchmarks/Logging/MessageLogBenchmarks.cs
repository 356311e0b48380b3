using BenchmarkDotNet.Attributes;
using TdxSim.Abi;
using TdxSim.Abi.Messages;
using Akka.Actor;
using TdxSim.Machine.Logging;
using TdxSim.Machine.Logging.Trace;
using TdxSim.Runtime.Time;
using TdxSim.Runtime.Tracing;

namespace TdxSim.Benchmarks.Logging;

/// <summary>
/// Cost per logged message: formatting one JSON Lines record, feeding one record to the Chrome trace writer,
/// and the whole path (delivery hook, queue, writer thread, JSON formatting) per delivered message.
/// The messages are the eight of a #VE port-I/O round trip (contract 3; tdx-reference 3.4), the log's typical mix.
/// Run: <c>dotnet run -c Release --project perf/TdxSim.Benchmarks -- --filter '*MessageLog*' --memory</c>.
/// </summary>
[MemoryDiagnoser]
public class MessageLogBenchmarks
{
    private const int Records = 8192;
    private const int HookRecords = Records * 16;

    private readonly MessageRecord[] _records = new MessageRecord[Records];
    private readonly (Delivery Envelope, IActorRef To)[] _deliveries = new (Delivery, IActorRef)[Records];
    private JsonLinesLogSink _jsonLines = null!;
    private ChromeTraceLogSink _trace = null!;
    private MessageRecorder _recorder = null!;
    private MessageRecorder _counting = null!;

    [GlobalSetup]
    public void Setup()
    {
        var vcpu = new PathRef("/user/machine/vcpu/0");
        var module = new PathRef("/user/machine/tdx-module");
        var vmm = new PathRef("/user/machine/vmm");
        (object Message, IActorRef From, IActorRef To)[] flow = VeIoFlow(vcpu, module, vmm);
        var namer = new ActorNamer();
        for (int i = 0; i < Records; i++)
        {
            (object message, IActorRef from, IActorRef to) = flow[i % flow.Length];
            long corr = 1 + (i / flow.Length);
            _records[i] = new MessageRecord(i + 1, i * 100L, message, namer.LabelOf(from), namer.LabelOf(to), corr, (i * 100L) - 20);
            _deliveries[i] = (new Delivery(message, from, corr, i * 100L), to);
        }

        _jsonLines = new JsonLinesLogSink(Stream.Null);
        _trace = new ChromeTraceLogSink(Stream.Null);
        _recorder = new MessageRecorder(new MonotonicClock(), [new JsonLinesLogSink(Stream.Null)], new MessageRecorderOptions { Capacity = Records * 2 });
        _counting = new MessageRecorder(new MonotonicClock(), [new CountingLogSink()], new MessageRecorderOptions { Capacity = HookRecords * 2 });
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _jsonLines.Complete();
        _trace.Complete();
        _recorder.Complete();
        _counting.Complete();
    }

    /// <summary>
    /// What the delivering (dispatcher) thread pays per message: the lock, the clock read and the ring slot. The
    /// ring holds a whole iteration, so the writer (draining concurrently) never applies backpressure; the wait
    /// for it to catch up happens outside the measurement.
    /// </summary>
    [Benchmark(OperationsPerInvoke = HookRecords)]
    public void DeliveryHook()
    {
        (Delivery Envelope, IActorRef To)[] deliveries = _deliveries;
        for (int round = 0; round < HookRecords / Records; round++)
        {
            for (int i = 0; i < deliveries.Length; i++)
            {
                _counting.OnDelivered(in deliveries[i].Envelope, deliveries[i].To);
            }
        }
    }

    [IterationCleanup(Target = nameof(DeliveryHook))]
    public void CatchUp()
    {
        if (!_counting.WaitForWriter(TimeSpan.FromSeconds(30)))
        {
            throw new InvalidOperationException("The message log writer did not catch up within 30 s.");
        }
    }

    /// <summary>Formatting one record as a JSON line (writer thread work), per record.</summary>
    [Benchmark(OperationsPerInvoke = Records)]
    public void JsonLinesFormat()
    {
        MessageRecord[] records = _records;
        for (int i = 0; i < records.Length; i++)
        {
            _jsonLines.Write(in records[i]);
        }

        _jsonLines.Flush();
    }

    /// <summary>Pairing one record and writing its share of trace slices (writer thread work), per record.</summary>
    [Benchmark(OperationsPerInvoke = Records)]
    public void ChromeTraceFormat()
    {
        MessageRecord[] records = _records;
        for (int i = 0; i < records.Length; i++)
        {
            _trace.Write(in records[i]);
        }

        _trace.Flush();
    }

    /// <summary>The delivery hook plus the writer thread's JSON Lines formatting, until all are written, per message.</summary>
    [Benchmark(OperationsPerInvoke = Records)]
    public void RecorderToJsonLines()
    {
        (Delivery Envelope, IActorRef To)[] deliveries = _deliveries;
        for (int i = 0; i < deliveries.Length; i++)
        {
            _recorder.OnDelivered(in deliveries[i].Envelope, deliveries[i].To);
        }

        if (!_recorder.WaitForWriter(TimeSpan.FromSeconds(30)))
        {
            throw new InvalidOperationException("The message log writer did not catch up within 30 s.");
        }
    }

    private static (object, IActorRef, IActorRef)[] VeIoFlow(IActorRef vcpu, IActorRef module, IActorRef vmm)
    {
        var exit = new VeInfo(VeExitReason.IoInstruction, IoQualification.Encode(1, false, 0x3F8), 0, 0, 1, 0);
        Gprs veinfoIn = default;
        veinfoIn[Gpr.Rax] = (ulong)TdcallLeaf.VpVeinfoGet;
        Gprs veinfoOut = default;
        veinfoOut[Gpr.Rcx] = (ulong)exit.ExitReason;
        veinfoOut[Gpr.Rdx] = exit.ExitQualification;
        veinfoOut[Gpr.R10] = exit.InstructionLength;
        Gprs call = default;
        call[Gpr.Rcx] = TdVmcall.LinuxSelectMask;
        call[Gpr.R11] = (ulong)TdVmcallSubfunction.InstructionIo;
        call[Gpr.R12] = 1;
        call[Gpr.R13] = TdVmcall.IoDirectionOut;
        call[Gpr.R14] = 0x3F8;
        call[Gpr.R15] = 0x41;
        var toVmm = new TdVmcallRequested(0, TdVmcall.LinuxSelectMask, call.Masked(TdVmcall.LinuxSelectMask));
        return
        [
            (new TdExited(0, exit, default), vcpu, module),
            (new TdEntered(0, TdEntryAction.VeInjected, exit, 0, default), module, vcpu),
            (new TdcallRequested(0, veinfoIn), vcpu, module),
            (new TdcallCompleted(0, (ushort)TdcallLeaf.VpVeinfoGet, GprMask.Rax | GprMask.Rcx | GprMask.Rdx | GprMask.R8 | GprMask.R9 | GprMask.R10, veinfoOut), module, vcpu),
            (new TdcallRequested(0, call), vcpu, module),
            (toVmm, module, vmm),
            (new TdVmcallCompleted(0, toVmm.Subfunction, GprMask.R10 | GprMask.R11, default), vmm, module),
            (new TdcallCompleted(0, (ushort)TdcallLeaf.VpVmcall, GprMask.Rax | GprMask.R10 | GprMask.R11, default), module, vcpu),
        ];
    }

    /// <summary>A ref with only a path: the recorder never sends.</summary>
    private sealed class PathRef : MinimalActorRef
    {
        public PathRef(string path)
        {
            ActorPath p = new RootActorPath(new Address("akka", "td"));
            foreach (string element in path.Split('/', StringSplitOptions.RemoveEmptyEntries))
            {
                p /= element;
            }

            Path = p;
        }

        public override ActorPath Path { get; }

        public override IActorRefProvider Provider => throw new NotSupportedException();

        protected override void TellInternal(object message, IActorRef sender) => throw new NotSupportedException();
    }
}
