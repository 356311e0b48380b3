using System.Text;
using TdxSim.Abi;
using TdxSim.Abi.Messages;
using Akka.Actor;
using TdxSim.Cli.Inspect;
using TdxSim.Machine.Logging;
using TdxSim.Machine.Logging.Reading;
using TdxSim.Machine.Logging.Trace;
using TdxSim.Runtime;
using TdxSim.Runtime.Configuration;

namespace TdxSim.Machine.Tests.Logging;

/// <summary>
/// The recorder on a real <see cref="ActorSystem"/>: a miniature machine (vCPUs, a TDX module, a VMM under
/// <c>/user/machine</c>) doing paravirt port-I/O round trips, logged, traced and inspected.
/// </summary>
public sealed class ActorSystemLoggingTests
{
    private const int RoundTrips = 150;

    [Fact]
    public async Task ConcurrentDispatcher_LogsEveryHop_AndInspectPairsThemAll()
    {
        using ActorSystem system = RuntimeConfig.CreateSystem("td", RuntimeConfig.Build(deterministic: false, seed: 0));
        TdxRuntime runtime = TdxRuntime.Get(system);
        var log = new MemoryStream();
        var trace = new MemoryStream();
        var recorder = new MessageRecorder(runtime.Clock, [new JsonLinesLogSink(log), new ChromeTraceLogSink(trace)]);
        runtime.AddDeliveryObserver(recorder);
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        IActorRef machine = system.ActorOf(runtime.Configure(Props.Create(() => new MachineActor(2, RoundTrips, done))), "machine");
        machine.Tell(new Start(), ActorRefs.NoSender);
        await done.Task.WaitAsync(TimeSpan.FromSeconds(60));
        await system.Terminate().WaitAsync(TimeSpan.FromSeconds(30));
        MessageLogReport report = recorder.Complete();
        Assert.True(report.IsLossless, report.ToString());

        List<LogEntry> entries = [.. MessageLogReader.Read(new StringReader(Encoding.UTF8.GetString(log.ToArray())), "td.jsonl")];
        Assert.Equal(report.Recorded, entries.Count);
        Assert.Equal(2 * RoundTrips, entries.Count(e => e.Type == nameof(TdVmcallRequested)));
        Assert.All(entries.Where(e => e.Type == nameof(TdcallRequested)), e => Assert.Equal("tdx-module", e.To));
        Assert.All(entries.Where(e => e.Type == nameof(TdcallRequested)), e => Assert.Equal($"vcpu/{e.Vcpu}", e.From));
        Assert.All(entries.Where(e => e.Type == nameof(TdVmcallRequested)), e => Assert.Equal("vmm", e.To));

        InspectReport bySubfn = InspectAnalyzer.Analyze(entries, "td.jsonl", InspectKey.Subfn, vcpu: null);
        Assert.Equal(0, bySubfn.Unmatched);
        Assert.Equal(0, bySubfn.Incomplete);
        InspectRow io = Assert.Single(bySubfn.Rows);
        Assert.Equal("Instruction.IO", io.Key);
        Assert.Equal(2 * RoundTrips, io.Statistics.Count);
        Assert.True(io.Statistics.MinNs >= 0);

        InspectReport byVcpu = InspectAnalyzer.Analyze(entries, "td.jsonl", InspectKey.Vcpu, vcpu: null);
        Assert.Equal([RoundTrips, RoundTrips], byVcpu.Rows.Select(r => r.Statistics.Count));

        List<TraceEvent> events = TraceValidator.Validate(Encoding.UTF8.GetString(trace.ToArray()));
        Assert.Equal(2 * RoundTrips, events.Count(e => e.Pid == ChromeTraceWriter.VmmPid && e.Cat != "wait"));
        Assert.Equal(2 * RoundTrips, events.Count(e => e.Name == "resume"));
    }

    [Fact]
    public void DeterministicDispatcher_SameSeed_GivesAByteIdenticalLog()
    {
        byte[] first = RunDeterministic(seed: 7);
        byte[] second = RunDeterministic(seed: 7);
        Assert.True(first.Length > 0);
        Assert.Equal(first, second);
    }

    private static byte[] RunDeterministic(ulong seed)
    {
        using ActorSystem system = RuntimeConfig.CreateSystem("td", RuntimeConfig.Build(deterministic: true, seed));
        TdxRuntime runtime = TdxRuntime.Get(system);
        var log = new MemoryStream();
        var recorder = new MessageRecorder(runtime.Clock, [new JsonLinesLogSink(log)]);
        runtime.AddDeliveryObserver(recorder);
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        IActorRef machine = system.ActorOf(runtime.Configure(Props.Create(() => new MachineActor(3, 20, done, runtime))), "machine");
        machine.Tell(new Start(), ActorRefs.NoSender);
        Assert.True(runtime.Deterministic!.RunUntil(done.Task, runtime.VirtualTime, TimeSpan.FromSeconds(5)), "the deterministic run did not finish");
        Assert.True(runtime.Terminate(TimeSpan.FromSeconds(5)));
        MessageLogReport report = recorder.Complete();
        Assert.True(report.IsLossless, report.ToString());
        Assert.Equal(2 + 3 + (3 * 20 * 4), report.Recorded); // two Starts, three StartVcpu, four hops per round trip
        return log.ToArray();
    }

    private sealed record Start;

    /// <summary>/user/machine: creates the module, the VMM and /user/machine/vcpu/N, then starts the vCPUs.</summary>
    private sealed class MachineActor : TdxActor
    {
        public MachineActor(int vcpus, int roundTrips, TaskCompletionSource done, TdxRuntime? runtime = null)
        {
            runtime ??= Runtime;
            var remaining = new Countdown(vcpus);
            IActorRef vmm = Context.ActorOf(runtime.Configure(Props.Create(() => new VmmActor())), "vmm");
            IActorRef module = Context.ActorOf(runtime.Configure(Props.Create(() => new ModuleActor(vmm))), "tdx-module");
            IActorRef group = Context.ActorOf(runtime.Configure(Props.Create(() => new VcpuGroup(vcpus, module, roundTrips, remaining, done))), "vcpu");
            Receive<Start>(_ => group.Tell(new Start(), Self));
        }
    }

    private sealed class Countdown(int value)
    {
        public int Value = value;
    }

    private sealed class VcpuGroup : TdxActor
    {
        public VcpuGroup(int vcpus, IActorRef module, int roundTrips, Countdown remaining, TaskCompletionSource done)
        {
            IActorRef[] children = [.. Enumerable.Range(0, vcpus).Select(i =>
                Context.ActorOf(Runtime.Configure(Props.Create(() => new VcpuActor(i, module, roundTrips, remaining, done))), i.ToString(System.Globalization.CultureInfo.InvariantCulture)))];
            Receive<Start>(_ =>
            {
                for (int i = 0; i < children.Length; i++)
                {
                    children[i].Tell(new StartVcpu(i), Self);
                }
            });
        }
    }

    /// <summary>Each round trip is a new request: a fresh correlation id, as a vCPU starts each TD exit or TDCALL.</summary>
    private sealed class VcpuActor : TdxActor
    {
        private int _left;

        public VcpuActor(int index, IActorRef module, int roundTrips, Countdown remaining, TaskCompletionSource done)
        {
            _left = roundTrips;
            Receive<StartVcpu>(_ => Next(index, module));
            Receive<TdcallCompleted>(_ =>
            {
                if (--_left > 0)
                {
                    Next(index, module);
                }
                else if (Interlocked.Decrement(ref remaining.Value) == 0)
                {
                    done.SetResult();
                }
            });
        }

        private void Next(int index, IActorRef module)
        {
            StartCorrelation();
            module.Tell(Td.VmcallIo(index, 0x3F8, output: true, size: 1, value: (ulong)_left), Self);
        }
    }

    private sealed class ModuleActor : TdxActor
    {
        private readonly Dictionary<int, IActorRef> _vcpus = [];

        public ModuleActor(IActorRef vmm)
        {
            Receive<TdcallRequested>(call =>
            {
                _vcpus[call.Vcpu] = Sender;
                vmm.Tell(Td.ToVmm(call), Self);
            });
            Receive<TdVmcallCompleted>(reply =>
                _vcpus[reply.Vcpu].Tell(Td.Completed(reply.Vcpu, TdcallLeaf.VpVmcall, written: GprMask.Rax | GprMask.R10 | GprMask.R11), Self));
        }
    }

    private sealed class VmmActor : TdxActor
    {
        public VmmActor() => Receive<TdVmcallRequested>(request => Sender.Tell(Td.FromVmm(request), Self));
    }
}
