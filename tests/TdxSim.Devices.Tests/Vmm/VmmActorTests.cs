using System.Buffers.Binary;
using TdxSim.Abi;
using TdxSim.Abi.Messages;
using Akka.Actor;
using Akka.Configuration;
using Akka.TestKit;
using TdxSim.Runtime.TestKit;
using TdxSim.Vmm;

namespace TdxSim.Devices.Tests.Vmm;

public sealed class VmmActorTests : TdxTestKit
{
    private static readonly TimeSpan QuoteDelay = TimeSpan.FromMilliseconds(250);
    private readonly VmmBed _bed = new();
    private readonly TestProbe _module;
    private readonly TestProbe _machine;
    private readonly IActorRef _vmm;

    public VmmActorTests()
        : base(ConfigurationFactory.ParseString("akka.scheduler.implementation = \"TdxSim.Runtime.Deterministic.VirtualTimeScheduler, TdxSim.Runtime\""))
    {
        _module = CreateTestProbe("module");
        _machine = CreateTestProbe("machine");
        _vmm = Sys.ActorOf(VmmActor.Props(_bed.Vmm, _machine.Ref, QuoteDelay), "vmm");
    }

    [Fact]
    public void Request_RepliesToSender()
    {
        _module.Send(_vmm, VmmBed.Request(30, 1, 0, 0x3FD, 0, vcpu: 1));

        TdVmcallCompleted reply = _module.ExpectMsg<TdVmcallCompleted>();
        Assert.Equal((1, TdVmcall.Success, 0x60UL), (reply.Vcpu, reply.VmcallStatus, reply.Regs[Gpr.R11]));
        Assert.Same(_vmm, _module.LastSender);
        _machine.ExpectNoMsg(TimeSpan.FromMilliseconds(20));
    }

    [Fact]
    public void DeviceEvents_GoToMachine_ReplyToModule()
    {
        _module.Send(_vmm, VmmBed.Request(30, 4, 1, 0x31, 0xAB, vcpu: 2));
        _module.Send(_vmm, VmmBed.Request(30, 1, 1, 0x80, 0x12, vcpu: 2));
        _module.Send(_vmm, VmmBed.Request(30, 4, 1, 0x30, 0, vcpu: 2));

        _machine.ExpectMsg(new SelftestReported(2, 0xAB));
        _machine.ExpectMsg(new PostCodeWritten(2, 0x12));
        _machine.ExpectMsg<GuestStopRequested>(s => s.Vcpu == 2 && s.Kind == GuestStopKind.SelftestSuccess);
        Assert.Equal(2, _module.ReceiveN(2).OfType<TdVmcallCompleted>().Count(r => r.VmcallStatus == TdVmcall.Success));

        // The success-port write ends the TD: the host never completes it (as QEMU's isa-debug-exit never returns).
        _module.ExpectNoMsg(TimeSpan.FromMilliseconds(50));
    }

    [Fact]
    public void DebugExitWrite_GoesToMachine_AndIsNeverCompleted()
    {
        _module.Send(_vmm, VmmBed.Request(30, 1, 1, 0xF4, 0x21, vcpu: 1));

        _machine.ExpectMsg<GuestStopRequested>(s => s.Vcpu == 1 && s.Kind == GuestStopKind.DebugExit && s.Value == 0x21);
        _module.ExpectNoMsg(TimeSpan.FromMilliseconds(50));
    }

    [Fact]
    public void Hlt_NoReplyUntilMachineWakesTheVcpu()
    {
        _module.Send(_vmm, VmmBed.Request(12, 0, vcpu: 3));

        _machine.ExpectMsg(new VcpuHalted(3, false));
        _module.ExpectNoMsg(TimeSpan.FromMilliseconds(50));

        _machine.Send(_vmm, new WakeHaltedVcpu(3));

        TdVmcallCompleted reply = _module.ExpectMsg<TdVmcallCompleted>();
        Assert.Equal((3, (ulong)TdVmcallSubfunction.InstructionHlt, TdVmcall.Success), (reply.Vcpu, reply.Subfunction, reply.VmcallStatus));
        _machine.Send(_vmm, new WakeHaltedVcpu(3)); // again: nothing to wake
        _machine.Send(_vmm, new WakeHaltedVcpu(99)); // unknown vCPU: ignored
        _module.ExpectNoMsg(TimeSpan.FromMilliseconds(20));
    }

    [Fact]
    public void GetQuote_SuccessAtOnce_QuoteAfterVirtualDelay()
    {
        _bed.Complete(TdVmcallSubfunction.MapGpa, VmmBed.Shared | 0x30_0000, 0x1000);
        var header = new byte[24 + 64];
        BinaryPrimitives.WriteUInt64LittleEndian(header, 1);
        BinaryPrimitives.WriteUInt32LittleEndian(header.AsSpan(16), 64);
        Assert.True(_bed.Memory.TryWriteShared(0x30_0000, header));

        _module.Send(_vmm, VmmBed.Request(0x10002, VmmBed.Shared | 0x30_0000, 0x1000, vcpu: 0));

        Assert.Equal(TdVmcall.Success, _module.ExpectMsg<TdVmcallCompleted>().VmcallStatus);
        _machine.ExpectNoMsg(TimeSpan.FromMilliseconds(30));
        Runtime.VirtualTime!.Advance(QuoteDelay - TimeSpan.FromMilliseconds(1));
        _machine.ExpectNoMsg(TimeSpan.FromMilliseconds(30));

        Runtime.VirtualTime.Advance(TimeSpan.FromMilliseconds(1));

        QuoteCompleted done = _machine.ExpectMsg<QuoteCompleted>();
        Assert.Equal(new QuoteCompleted(0, VmmBed.Shared | 0x30_0000, 0, null), done);
        Span<byte> status = stackalloc byte[8];
        Assert.True(_bed.Memory.TryReadShared(0x30_0008, status));
        Assert.Equal(0UL, BinaryPrimitives.ReadUInt64LittleEndian(status));
    }

    [Fact]
    public void ReportFatalError_StopRequestAndNoReply()
    {
        _module.Send(_vmm, VmmBed.Request(0x10003, 0x0BAA_AAAD_0000_0000, vcpu: 1));

        _machine.ExpectMsg<GuestStopRequested>(s => s.Kind == GuestStopKind.ReportedFatalError && s.Value == 0x0BAA_AAAD_0000_0000);
        _module.ExpectNoMsg(TimeSpan.FromMilliseconds(50));
    }

    [Fact]
    public void ProtocolViolation_ReportedAsInternalError()
    {
        _module.Send(_vmm, VmmBed.Request(30, 1, 0, 0x80, 0, vcpu: 17));

        GuestStopRequested stop = _machine.ExpectMsg<GuestStopRequested>();
        Assert.Equal((17, GuestStopKind.InternalError), (stop.Vcpu, stop.Kind));
        Assert.StartsWith("VMM: ", stop.Detail, StringComparison.Ordinal);
        _module.ExpectNoMsg(TimeSpan.FromMilliseconds(20));
    }

    [Fact]
    public void PerVcpuActors_ShareOneCore()
    {
        IActorRef second = Sys.ActorOf(VmmActor.Props(_bed.Vmm, _machine.Ref), "vmm-1");

        _module.Send(_vmm, VmmBed.Request(32, 0x830, 7, vcpu: 0));
        _module.ExpectMsg<TdVmcallCompleted>();
        _module.Send(second, VmmBed.Request(31, 0x830, vcpu: 0));

        Assert.Equal(7UL, _module.ExpectMsg<TdVmcallCompleted>().Regs[Gpr.R11]);
    }
}
