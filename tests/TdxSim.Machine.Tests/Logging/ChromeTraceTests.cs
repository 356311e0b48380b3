using System.Text;
using System.Text.Json;
using TdxSim.Abi.Messages;
using TdxSim.Runtime.Tracing;
using TdxSim.Runtime.Time;
using TdxSim.Machine.Logging;
using TdxSim.Machine.Logging.Reading;
using TdxSim.Machine.Logging.Trace;

namespace TdxSim.Machine.Tests.Logging;

public sealed class ChromeTraceTests
{
    private static (string Trace, List<MessageRecord> Records, MessageLogReport Report) Record(Action<FlowDriver> flows)
    {
        var clock = new ManualClock();
        var stream = new MemoryStream();
        var memory = new MemoryLogSink();
        var recorder = new MessageRecorder(clock, [new ChromeTraceLogSink(stream), memory]);
        flows(new FlowDriver(recorder, clock));
        MessageLogReport report = recorder.Complete();
        return (Encoding.UTF8.GetString(stream.ToArray()), [.. memory.Records], report);
    }

    [Fact]
    public void VeIo_HasNestedGuestSlices_ModuleAndVmmSlices_AndAFlowThereAndBack()
    {
        (string json, List<MessageRecord> r, MessageLogReport report) = Record(d => d.VeIo(0, 42, 0x3F8, 0x41, vmmNs: 300));
        Assert.True(report.IsLossless, report.ToString());
        List<TraceEvent> events = TraceValidator.Validate(json);

        List<TraceEvent> guest = [.. events.Where(e => e.Pid == ChromeTraceWriter.GuestPid && e.Ph == "X")];
        Assert.Equal(["#VE IO_INSTRUCTION", "TDG.VP.VEINFO.GET", "TDG.VP.VMCALL<Instruction.IO>", "resume"], guest.Select(e => e.Name));

        // The #VE runs from the vCPU's exit (send time of TdExited) to the delivery of the last TdcallCompleted.
        Assert.Equal(r[0].SentAtNs, guest[0].TsNs);
        Assert.Equal(r[7].TimeNs, guest[0].EndNs);
        Assert.Equal("ve-injected", guest[0].Args.GetProperty("action").GetString());
        Assert.Equal(42, guest[0].Args.GetProperty("corr").GetInt64());
        Assert.Equal([r[2].SentAtNs, r[3].TimeNs], new[] { guest[1].TsNs, guest[1].EndNs });
        Assert.Equal([r[4].SentAtNs, r[7].TimeNs], new[] { guest[2].TsNs, guest[2].EndNs });
        Assert.Equal(0, guest[3].DurNs);
        Assert.Equal(r[7].TimeNs, guest[3].TsNs);

        List<TraceEvent> module = [.. events.Where(e => e.Pid == ChromeTraceWriter.ModulePid && e.Cat != "wait")];
        Assert.Equal(["TD exit IO_INSTRUCTION", "TDG.VP.VEINFO.GET", "TDG.VP.VMCALL<Instruction.IO>", "TDVMCALL<Instruction.IO> completed"], module.Select(e => e.Name));

        // Module handling: from delivery to the send of its next message; the gap after it is queueing.
        Assert.Equal([r[0].TimeNs, r[1].SentAtNs], new[] { module[0].TsNs, module[0].EndNs });
        Assert.Equal([r[6].TimeNs, r[7].SentAtNs], new[] { module[3].TsNs, module[3].EndNs });

        TraceEvent vmm = Assert.Single(events, e => e.Pid == ChromeTraceWriter.VmmPid && e.Cat != "wait");
        Assert.Equal("TDVMCALL<Instruction.IO>", vmm.Name);
        Assert.Equal(300, vmm.DurNs);

        // Queue waits: a slice from the send to the handling's start, just before the handling slice.
        TraceEvent exitWait = Assert.Single(events, e => e.Cat == "wait" && e.Name == "wait: TdExited");
        Assert.Equal([r[0].SentAtNs, r[0].TimeNs], new[] { exitWait.TsNs, exitWait.EndNs });
        Assert.Equal(module[0].TsNs, exitWait.EndNs);
        Assert.Equal("0x3f8", vmm.Args.GetProperty("port").GetString());
        Assert.Equal("out", vmm.Args.GetProperty("access").GetString());
        Assert.Equal("0x41", vmm.Args.GetProperty("regs").GetProperty("r15").GetString());
        Assert.Equal("0x0", vmm.Args.GetProperty("status").GetString());

        TraceEvent device = Assert.Single(events, e => e.Pid == ChromeTraceWriter.DevicesPid);
        Assert.Equal("i", device.Ph);
        Assert.Equal("port 0x3f8 out", device.Name);
        Assert.Equal(r[5].TimeNs, device.TsNs);

        // One flow, id = corr: guest #VE → module → nested TDCALL → ... → VMM → module → resume.
        List<TraceEvent> flow = [.. events.Where(e => e.BindId == 42).OrderBy(e => e.Index)];
        Assert.Equal(9, flow.Count);
        Assert.Equal("#VE IO_INSTRUCTION", flow[0].Name);
        Assert.Equal("resume", flow[^1].Name);
        Assert.Equal(
            [1, 2, 1, 2, 1, 2, 3, 2, 1],
            flow.Select(e => e.Pid));
    }

    [Fact]
    public void SeveralVcpusAndRequestKinds_ProduceAValidTrace()
    {
        (string json, _, _) = Record(d =>
        {
            d.VeIo(0, 1, 0x3F8, 0x41);
            d.ParavirtIo(1, 2, 0x80, 0x5);
            d.EmulatedCpuid(0, 3);
            d.Deliver(new VcpuHalted(1, InterruptsBlocked: true), Td.Vmm, Td.MachineRoot, 2);
            d.ParavirtIo(0, 4, 0x31, 0x1234);
            d.Deliver("internal", null, Td.MachineRoot, 5);
        });
        List<TraceEvent> events = TraceValidator.Validate(json);

        Assert.Contains(events, e => e.Name == "CPUID (emulated by the TDX module)" && e.Pid == 1 && e.Tid == 0);
        Assert.Contains(events, e => e.Name == "TDG.VP.VMCALL<Instruction.IO>" && e.Pid == 1 && e.Tid == 1 && e.Cat == "tdcall");
        TraceEvent halted = Assert.Single(events, e => e.Name == "VcpuHalted");
        Assert.Equal(("i", 1, 1), (halted.Ph, halted.Pid, halted.Tid));
        Assert.Equal("Instruction.HLT", halted.Args.GetProperty("subfn").GetString());
        Assert.Equal([1L, 2L, 3L, 4L], events.Where(e => e.BindId is not null).Select(e => e.BindId!.Value).Distinct().Order());

        using JsonDocument doc = JsonDocument.Parse(json);
        string[] names = [.. doc.RootElement.GetProperty("traceEvents").EnumerateArray()
            .Where(e => e.GetProperty("name").GetString() == "process_name")
            .Select(e => e.GetProperty("args").GetProperty("name").GetString()!)];
        Assert.Equal(["TD guest", "TDX module", "VMM", "devices"], names);
    }

    [Fact]
    public void RunEndingMidRequest_StillWritesValidJson_WithIncompleteSlices()
    {
        (string json, _, _) = Record(d =>
        {
            d.ParavirtIo(0, 1, 0x3F8, 0x41);
            FakeActorRef v = Td.Vcpu(0);
            TdcallRequested call = Td.VmcallIo(0, 0xF4, true, 1, 0x10);
            d.Deliver(call, v, Td.Module, 2);
            d.Deliver(Td.ToVmm(call), Td.Module, Td.Vmm, 2);
        });
        List<TraceEvent> events = TraceValidator.Validate(json);

        TraceEvent open = Assert.Single(events, e => e.BindId == 2 && e.Pid == 1);
        Assert.True(open.Args.GetProperty("incomplete").GetBoolean());
        TraceEvent vmm = Assert.Single(events, e => e.BindId == 2 && e.Pid == 3);
        Assert.True(vmm.Args.GetProperty("incomplete").GetBoolean());
        Assert.False(events.Single(e => e.BindId == 1 && e.Pid == 1 && e.Name != "resume").Args.TryGetProperty("incomplete", out _));
    }

    [Fact]
    public void SendTimesFromAnotherTimeline_CannotMakeGuestSlicesOverlap()
    {
        // Envelopes stamped by a clock that started 1 ms later than the recorder's: every send time looks 1 ms
        // older than it is. The guest track must still hold one request after another.
        var clock = new ManualClock(1_000_000);
        var stream = new MemoryStream();
        var recorder = new MessageRecorder(clock, [new ChromeTraceLogSink(stream)]);
        FakeActorRef v = Td.Vcpu(0);
        for (int corr = 1; corr <= 3; corr++)
        {
            TdcallRequested call = Td.VmcallIo(0, 0x3F8, true, 1, (ulong)corr);
            TdVmcallRequested toVmm = Td.ToVmm(call);
            (object Message, FakeActorRef From, FakeActorRef To)[] hops =
            [
                (call, v, Td.Module),
                (toVmm, Td.Module, Td.Vmm),
                (Td.FromVmm(toVmm), Td.Vmm, Td.Module),
                (Td.Completed(0, Abi.TdcallLeaf.VpVmcall), Td.Module, v),
            ];
            foreach ((object message, FakeActorRef from, FakeActorRef to) in hops)
            {
                clock.AdvanceBy(100);
                recorder.OnDelivered(new Delivery(message, from, corr, clock.NowNanoseconds - 1_000_000 - 50), to);
            }
        }

        recorder.Complete();
        List<TraceEvent> events = TraceValidator.Validate(Encoding.UTF8.GetString(stream.ToArray()));
        Assert.Equal(3, events.Count(e => e.Pid == 1 && e.Cat == "tdcall"));
    }

    [Fact]
    public void EmptyRun_IsAValidTraceWithTheProcessNames()
    {
        (string json, _, _) = Record(_ => { });
        Assert.Empty(TraceValidator.Validate(json));
        Assert.Contains("\"TDX module\"", json, StringComparison.Ordinal);
    }

    [Fact]
    public void TraceFromALogFile_RunsDeliveryToDelivery()
    {
        var clock = new ManualClock();
        var log = new MemoryStream();
        var recorder = new MessageRecorder(clock, [new JsonLinesLogSink(log)]);
        var driver = new FlowDriver(recorder, clock);
        driver.VeIo(0, 1, 0x3F8, 0x41);
        driver.ParavirtIo(1, 2, 0x80, 1);
        recorder.Complete();
        List<LogEntry> entries = [.. MessageLogReader.Read(new StringReader(Encoding.UTF8.GetString(log.ToArray())), "run.jsonl")];

        var trace = new MemoryStream();
        ChromeTraceLogSink.Convert(entries, trace);
        List<TraceEvent> events = TraceValidator.Validate(Encoding.UTF8.GetString(trace.ToArray()));

        TraceEvent ve = Assert.Single(events, e => e.Name == "#VE IO_INSTRUCTION");
        Assert.Equal(entries[0].TimeNs, ve.TsNs);
        Assert.Equal(entries[7].TimeNs, ve.EndNs);
        TraceEvent vmm = Assert.Single(events, e => e.Pid == 3 && e.Tid == 0);
        Assert.Equal(entries[6].TimeNs - entries[5].TimeNs, vmm.DurNs);
    }

    [Fact]
    public void Timestamps_AreMicrosecondsWithNanosecondDigits()
    {
        (string json, List<MessageRecord> r, _) = Record(d => d.ParavirtIo(0, 1, 0x3F8, 0x41));
        using JsonDocument doc = JsonDocument.Parse(json);
        JsonElement slice = doc.RootElement.GetProperty("traceEvents").EnumerateArray().First(e => e.GetProperty("ph").GetString() == "X");
        string ts = slice.GetProperty("ts").GetRawText();
        Assert.Equal($"{r[0].SentAtNs / 1000}.{r[0].SentAtNs % 1000:D3}", ts);
    }
}
