using TdxSim.Abi;
using TdxSim.Abi.Messages;
using TdxSim.Runtime.Time;
using TdxSim.Machine.Logging;
using TdxSim.Machine.Logging.Pairing;

namespace TdxSim.Machine.Tests.Logging;

public sealed class RequestPairerTests
{
    /// <summary>What the pairer reported, copied out (requests are pooled).</summary>
    private sealed class Collector : IRequestObserver
    {
        public List<(TdxRequestKind Kind, int Vcpu, long Corr, bool Complete, string[] Types, List<TdxEvent> Events)> Requests { get; } = [];

        public List<(string Type, bool Unmatched)> Others { get; } = [];

        public long EndOfRun { get; set; }

        public void OnRequest(TdxRequest request)
        {
            var events = new List<TdxEvent>();
            TdxEvents.Extract(request, events, EndOfRun);
            var types = new string[request.Hops.Length];
            for (int i = 0; i < types.Length; i++)
            {
                types[i] = request.Hops[i].Type;
            }

            Requests.Add((request.Kind, request.Vcpu, request.Corr, request.IsComplete, types, events));
        }

        public void OnOther(in Hop hop, bool unmatched) => Others.Add((hop.Type, unmatched));
    }

    private static (Collector Collector, RequestPairer Pairer, List<MessageRecord> Records) Run(Action<FlowDriver> flows, bool finish = true)
    {
        var clock = new ManualClock();
        var memory = new MemoryLogSink();
        var recorder = new MessageRecorder(clock, [memory]);
        flows(new FlowDriver(recorder, clock));
        recorder.Complete();
        var collector = new Collector { EndOfRun = clock.NowNanoseconds };
        var pairer = new RequestPairer(collector);
        foreach (MessageRecord record in memory.Records)
        {
            Hop hop = Hop.FromRecord(in record);
            pairer.Observe(in hop);
        }

        if (finish)
        {
            pairer.Finish();
        }

        return (collector, pairer, [.. memory.Records]);
    }

    [Fact]
    public void VeIoFlow_IsOneExitRequest_WithItsTdcallsAndTdvmcall()
    {
        (Collector c, RequestPairer pairer, List<MessageRecord> records) = Run(d => d.VeIo(0, 5, 0x3F8, 0x41));

        var request = Assert.Single(c.Requests);
        Assert.Equal(TdxRequestKind.Exit, request.Kind);
        Assert.True(request.Complete);
        Assert.Equal(8, request.Types.Length);
        Assert.Equal(0, pairer.Unmatched);

        List<TdxEvent> events = request.Events;
        Assert.Equal([TdxEventKind.Exit, TdxEventKind.Tdcall, TdxEventKind.Tdcall, TdxEventKind.Tdvmcall], events.Select(e => e.Kind));
        TdxEvent exit = events[0];
        Assert.Equal("IO_INSTRUCTION", exit.Reason);
        Assert.Equal(records[0].TimeNs, exit.StartNs);
        Assert.Equal(records[7].TimeNs, exit.EndNs);
        Assert.True(exit.IsComplete);

        TdxEvent veinfo = events[1];
        Assert.Equal("TDG.VP.VEINFO.GET", veinfo.Leaf);
        Assert.True(veinfo.IsNested);
        Assert.Equal(records[3].TimeNs - records[2].TimeNs, veinfo.DurationNs);

        TdxEvent vmcall = events[2];
        Assert.Equal("TDG.VP.VMCALL", vmcall.Leaf);
        Assert.Equal("Instruction.IO", vmcall.Subfn);
        Assert.Equal(records[7].TimeNs - records[4].TimeNs, vmcall.DurationNs);
        Assert.Equal(0UL, vmcall.Status);

        TdxEvent io = events[3];
        Assert.Equal("Instruction.IO", io.Subfn);
        Assert.Equal((ushort)0x3F8, io.Port);
        Assert.Equal(DeviceAccess.Out, io.Access);
        Assert.Equal(1, io.Size);
        Assert.Equal(0x41UL, io.Value);
        Assert.Null(io.Gpa);
        Assert.Equal("IO_INSTRUCTION", io.Reason);
        Assert.Equal(records[6].TimeNs - records[5].TimeNs, io.DurationNs);
        Assert.Equal(records[5].Seq, io.FirstSeq);
    }

    [Fact]
    public void ExitRequest_StaysOpenUntilTheVcpuMovesOn()
    {
        (Collector c, _, _) = Run(d => d.VeIo(0, 5, 0x3F8, 0x41), finish: false);
        Assert.Empty(c.Requests);

        (Collector c2, _, _) = Run(
            d =>
            {
                d.VeIo(0, 5, 0x3F8, 0x41);
                d.ParavirtIo(0, 6, 0x80, 1);
            },
            finish: false);

        // The paravirt TDCALL closes the #VE before it, and closes itself at its completion.
        Assert.Equal([5L, 6L], c2.Requests.Select(r => r.Corr));
        Assert.Equal([TdxRequestKind.Exit, TdxRequestKind.Tdcall], c2.Requests.Select(r => r.Kind));
    }

    [Fact]
    public void ParavirtTdcall_EndsAtItsCompletion()
    {
        (Collector c, _, List<MessageRecord> records) = Run(d => d.ParavirtIo(1, 9, 0x80, 0x12), finish: false);
        var request = Assert.Single(c.Requests);
        Assert.Equal(TdxRequestKind.Tdcall, request.Kind);
        Assert.Equal(1, request.Vcpu);
        Assert.Equal([TdxEventKind.Tdcall, TdxEventKind.Tdvmcall], request.Events.Select(e => e.Kind));
        Assert.False(request.Events[0].IsNested);
        Assert.Equal(records[3].TimeNs - records[0].TimeNs, request.Events[0].DurationNs);
        Assert.Equal((ushort)0x80, request.Events[1].Port);
    }

    [Fact]
    public void InterleavedVcpus_ArePairedIndependently()
    {
        (Collector c, RequestPairer pairer, _) = Run(d =>
        {
            FakeActorRef v0 = Td.Vcpu(0);
            FakeActorRef v1 = Td.Vcpu(1);
            TdcallRequested a = Td.VmcallIo(0, 0x3F8, true, 1, 0x41);
            TdcallRequested b = Td.VmcallIo(1, 0x80, true, 1, 0x7);
            TdVmcallRequested av = Td.ToVmm(a);
            TdVmcallRequested bv = Td.ToVmm(b);
            d.Deliver(a, v0, Td.Module, 100);
            d.Deliver(b, v1, Td.Module, 200);
            d.Deliver(av, Td.Module, Td.Vmm, 100);
            d.Deliver(bv, Td.Module, Td.Vmm, 200);
            d.Deliver(Td.FromVmm(bv), Td.Vmm, Td.Module, 200);
            d.Deliver(Td.FromVmm(av), Td.Vmm, Td.Module, 100);
            d.Deliver(Td.Completed(0, TdcallLeaf.VpVmcall), Td.Module, v0, 100);
            d.Deliver(Td.Completed(1, TdcallLeaf.VpVmcall), Td.Module, v1, 200);
        });

        Assert.Equal(0, pairer.Unmatched);
        Assert.Equal(2, c.Requests.Count);
        Assert.All(c.Requests, r => Assert.True(r.Complete));
        Assert.Equal((ushort)0x3F8, c.Requests.Single(r => r.Vcpu == 0).Events[1].Port);
        Assert.Equal((ushort)0x80, c.Requests.Single(r => r.Vcpu == 1).Events[1].Port);
    }

    [Fact]
    public void EmulatedExit_IsACompleteExitWithoutTdcalls()
    {
        (Collector c, _, List<MessageRecord> records) = Run(d => d.EmulatedCpuid(0, 3));
        var request = Assert.Single(c.Requests);
        Assert.True(request.Complete);
        TdxEvent exit = Assert.Single(request.Events);
        Assert.Equal("CPUID", exit.Reason);
        Assert.Equal(records[1].TimeNs - records[0].TimeNs, exit.DurationNs);
    }

    [Fact]
    public void RunEndingMidRequest_GivesIncompleteEventsEndingAtTheLastTime()
    {
        (Collector c, _, _) = Run(d =>
        {
            FakeActorRef v = Td.Vcpu(0);
            VeInfo exit = Td.IoExit(0x3F8, false, 1);
            d.Deliver(new TdExited(0, exit, default), v, Td.Module, 1);
            d.Deliver(new TdEntered(0, TdEntryAction.VeInjected, exit, 0, default), Td.Module, v, 1);
            d.Deliver(Td.VeinfoGet(0), v, Td.Module, 1);
            d.Deliver(new StartVcpu(1), null, Td.Vcpu(1), 2, handleNs: 1000);
        });

        var request = Assert.Single(c.Requests);
        Assert.False(request.Complete);
        Assert.All(request.Events, e => Assert.False(e.IsComplete));
        Assert.All(request.Events, e => Assert.Equal(c.EndOfRun, e.EndNs));
        Assert.Equal([TdxEventKind.Exit, TdxEventKind.Tdcall], request.Events.Select(e => e.Kind));
        Assert.Equal(("StartVcpu", false), Assert.Single(c.Others));
    }

    [Fact]
    public void RepliesThatFitNoRequest_AreUnmatched()
    {
        (Collector c, RequestPairer pairer, _) = Run(d =>
        {
            d.Deliver(Td.Completed(0, TdcallLeaf.VpInfo), Td.Module, Td.Vcpu(0), 1);
            d.Deliver(Td.VeinfoGet(0), Td.Vcpu(0), Td.Module, 2);
            d.Deliver(Td.Completed(0, TdcallLeaf.VpVeinfoGet), Td.Module, Td.Vcpu(0), 3);
            d.Deliver(Td.Completed(0, TdcallLeaf.VpVeinfoGet), Td.Module, Td.Vcpu(0), 2);
        });

        Assert.Equal(2, pairer.Unmatched);
        Assert.Equal([("TdcallCompleted", true), ("TdcallCompleted", true)], c.Others);
        Assert.True(Assert.Single(c.Requests).Complete);
    }

    [Fact]
    public void MmioWithoutVisibleR14_TakesTheGpaFromTheVeInfo()
    {
        const ulong Gpa = 0x8000_FEB0_0000;
        (Collector c, _, _) = Run(d =>
        {
            FakeActorRef v = Td.Vcpu(0);
            VeInfo exit = Td.EptExit(Gpa);
            d.Deliver(new TdExited(0, exit, default), v, Td.Module, 4);
            d.Deliver(new TdEntered(0, TdEntryAction.VeInjected, exit, 0, default), Td.Module, v, 4);
            d.Deliver(Td.VeinfoGet(0), v, Td.Module, 4);
            d.Deliver(Td.VeinfoReturned(0, exit), Td.Module, v, 4);
            TdcallRequested call = Td.VmcallMmio(0, Gpa, write: false, size: 4, value: 0);
            d.Deliver(call, v, Td.Module, 4);
            ushort select = GprMask.R10 | GprMask.R11 | GprMask.R12 | GprMask.R13; // R14 withheld
            var toVmm = new TdVmcallRequested(0, select, call.Regs.Masked(select));
            d.Deliver(toVmm, Td.Module, Td.Vmm, 4);
            d.Deliver(Td.FromVmm(toVmm, r11: 0x00170020), Td.Vmm, Td.Module, 4);
            d.Deliver(Td.Completed(0, TdcallLeaf.VpVmcall), Td.Module, v, 4);
        });

        List<TdxEvent> events = Assert.Single(c.Requests).Events;
        Assert.Equal(Gpa, events[0].Gpa);
        TdxEvent mmio = events.Single(e => e.Kind == TdxEventKind.Tdvmcall);
        Assert.Equal(Gpa, mmio.Gpa);
        Assert.Equal(DeviceAccess.Read, mmio.Access);
        Assert.Null(mmio.Value);
        Assert.Equal(4, mmio.Size);
    }

    [Fact]
    public void HugeVcpuNumbers_DoNotSizeArrays()
    {
        var collector = new Collector();
        var pairer = new RequestPairer(collector);
        Gprs none = default;
        var hop = new Hop(1, 0, -1, int.MaxValue, 1, HopKind.TdcallRequested, "TdcallRequested", "vcpu/x", "tdx-module", "TDG.VP.INFO", null, null, null, 0, in none);
        pairer.Observe(in hop);
        pairer.Finish();
        Assert.Equal(int.MaxValue, Assert.Single(collector.Requests).Vcpu);
    }
}
