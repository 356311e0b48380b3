using TdxSim.Abi;
using TdxSim.Abi.Messages;
using Akka.Actor;
using Akka.TestKit;
using TdxSim.Runtime.TestKit;
using TdxSim.TdxModule.Memory;
using TdxSim.TdxModule.Tests.Support;

namespace TdxSim.TdxModule.Tests;

/// <summary>The module actor with TestProbes as vCPUs and VMMs.</summary>
public sealed class TdxModuleActorTests : TdxTestKit
{
    private static TdxModuleCore NewCore(int vcpus = 2, ulong attributes = TdAttributes.SeptVeDisable, TdPageState initial = TdPageState.Accepted)
        => new(new TdxModuleOptions { NumVcpus = vcpus, Attributes = attributes }, new FakeTdMemory(ModuleHarness.DefaultMemory, initial));

    private static TdcallRequested Vmcall(int vcpu, ushort select, Gprs regs)
    {
        regs[Gpr.Rax] = (ulong)TdcallLeaf.VpVmcall;
        regs[Gpr.Rcx] = select;
        return new TdcallRequested(vcpu, regs);
    }

    [Fact]
    public void Tdcall_IsAnsweredToTheSender()
    {
        TestProbe vmm = CreateTestProbe("vmm");
        TestProbe vcpu1 = CreateTestProbe("vcpu1");
        IActorRef module = Sys.ActorOf(TdxModuleActor.CreateProps(NewCore(), vmm.Ref), "tdx-module");
        vcpu1.Send(module, new TdcallRequested(1, ModuleHarness.Regs((Gpr.Rax, (ulong)TdcallLeaf.VpInfo))));
        TdcallCompleted c = vcpu1.ExpectMsg<TdcallCompleted>();
        Assert.Equal(1, c.Vcpu);
        Assert.Equal(TdxStatus.Success, c.CompletionStatus);
        Assert.Equal(1UL, c.Regs[Gpr.R9]);
        Assert.Equal(module, vcpu1.LastSender);
        vmm.ExpectNoMsg(TimeSpan.FromMilliseconds(50));
    }

    [Fact]
    public void Vmcall_GoesToTheVmmMasked_AndOnlySelectedRegistersComeBack()
    {
        DeliveryRecorder deliveries = RecordDeliveries();
        TestProbe vmm = CreateTestProbe("vmm");
        TestProbe vcpu = CreateTestProbe("vcpu0");
        IActorRef vmmRelay = Sys.ActorOf(RelayTo(vmm.Ref), "vmm-relay");
        IActorRef vcpuRelay = Sys.ActorOf(RelayTo(vcpu.Ref), "vcpu-relay");
        TdxModuleCore core = NewCore();
        IActorRef module = ActorOfStarted(TdxModuleActor.CreateProps(core, vmmRelay), "tdx-module");
        const ushort select = GprMask.R10 | GprMask.R11 | GprMask.R12 | GprMask.R13;
        Gprs guest = ModuleHarness.Distinct();
        guest[Gpr.R10] = 0;
        guest[Gpr.R11] = (ulong)TdVmcallSubfunction.InstructionIo;
        TellWithCorrelation(module, Vmcall(0, select, guest), vcpuRelay, 4242);

        TdVmcallRequested request = vmm.ExpectMsg<TdVmcallRequested>();
        Assert.Equal(4242, deliveries.CorrelationOf<TdVmcallRequested>());
        Assert.Equal(module, vmm.LastSender);
        Assert.Equal(0, request.Vcpu);
        Assert.Equal(select, request.GprSelect);
        Assert.Equal((ulong)TdVmcallSubfunction.InstructionIo, request.Subfunction);
        Assert.Equal(guest[Gpr.R12], request.Regs[Gpr.R12]);
        Assert.Equal(guest[Gpr.R13], request.Regs[Gpr.R13]);
        Assert.Equal(0UL, request.Regs[Gpr.Rbx]);
        Assert.Equal(0UL, request.Regs[Gpr.Rdi]);
        Assert.Equal(0UL, request.Regs[Gpr.R14]);
        Assert.Equal(0UL, request.Regs[Gpr.Rcx]);
        vcpu.ExpectNoMsg(TimeSpan.FromMilliseconds(50));

        // The VMM (replying inside the request's correlation, as a VMM actor does) writes every register;
        // the guest gets R10..R13 and RAX only.
        Gprs answer = ModuleHarness.Distinct();
        TellWithCorrelation(module, new TdVmcallCompleted(0, 30, GprMask.All, answer), vmmRelay, 4242);
        TdcallCompleted c = vcpu.ExpectMsg<TdcallCompleted>();
        Assert.Equal(4242, deliveries.CorrelationOf<TdcallCompleted>());
        Assert.Equal(module, vcpu.LastSender);
        Assert.Equal((ushort)(select | GprMask.Rax), c.WrittenRegisters);
        Assert.Equal(TdxStatus.Success, c.CompletionStatus);
        Assert.Equal(answer[Gpr.R11], c.Regs[Gpr.R11]);
        Assert.Equal(0UL, c.Regs[Gpr.R14]);
        Assert.Equal(0UL, c.Regs[Gpr.Rbx]);
        Assert.False(core.HasVmcallInFlight(0));
    }

    [Fact]
    public void VmmReplyForTheWrongVcpu_IsIgnored()
    {
        TestProbe vmm = CreateTestProbe("vmm");
        TestProbe vcpu0 = CreateTestProbe("vcpu0");
        TestProbe vcpu1 = CreateTestProbe("vcpu1");
        TdxModuleCore core = NewCore();
        IActorRef module = Sys.ActorOf(TdxModuleActor.CreateProps(core, vmm.Ref), "tdx-module");
        vcpu0.Send(module, Vmcall(0, GprMask.R11, default));
        vmm.ExpectMsg<TdVmcallRequested>(r => r.Vcpu == 0);

        vmm.Reply(new TdVmcallCompleted(1, 30, GprMask.R11, ModuleHarness.Regs((Gpr.R11, 0xBAD))));
        vmm.Reply(new TdVmcallCompleted(7, 30, GprMask.R11, ModuleHarness.Regs((Gpr.R11, 0xBAD))));
        vcpu0.ExpectNoMsg(TimeSpan.FromMilliseconds(50));
        vcpu1.ExpectNoMsg(TimeSpan.FromMilliseconds(10));
        AwaitCondition(() => core.Counters.VmcallRepliesRejected == 2);

        vmm.Reply(new TdVmcallCompleted(0, 30, GprMask.R11, ModuleHarness.Regs((Gpr.R11, 0x600D))));
        Assert.Equal(0x600DUL, vcpu0.ExpectMsg<TdcallCompleted>().Regs[Gpr.R11]);

        // A late duplicate is ignored too.
        vmm.Reply(new TdVmcallCompleted(0, 30, GprMask.R11, ModuleHarness.Regs((Gpr.R11, 0xBAD))));
        // The module counts the duplicate when it processes it; a loaded CI machine may take longer than
        // the no-message window, so wait for the count rather than read it once.
        AwaitCondition(() => core.Counters.VmcallRepliesRejected == 3);
        vcpu0.ExpectNoMsg(TimeSpan.FromMilliseconds(50));
        Assert.Equal(3, core.Counters.VmcallRepliesRejected);
    }

    [Fact]
    public void VmcallsOfTwoVcpus_AreRoutedToTheirOwnVmm_AndBackToTheRightVcpu()
    {
        TestProbe vmm0 = CreateTestProbe("vmm0");
        TestProbe vmm1 = CreateTestProbe("vmm1");
        TestProbe vcpu0 = CreateTestProbe("vcpu0");
        TestProbe vcpu1 = CreateTestProbe("vcpu1");
        IActorRef module = Sys.ActorOf(TdxModuleActor.CreateProps(NewCore(), v => v == 0 ? vmm0.Ref : vmm1.Ref), "tdx-module");
        vcpu0.Send(module, Vmcall(0, GprMask.R12, ModuleHarness.Regs((Gpr.R12, 100))));
        vcpu1.Send(module, Vmcall(1, GprMask.R12, ModuleHarness.Regs((Gpr.R12, 200))));
        TdVmcallRequested r0 = vmm0.ExpectMsg<TdVmcallRequested>();
        TdVmcallRequested r1 = vmm1.ExpectMsg<TdVmcallRequested>();
        Assert.Equal((0, 100UL), (r0.Vcpu, r0.Regs[Gpr.R12]));
        Assert.Equal((1, 200UL), (r1.Vcpu, r1.Regs[Gpr.R12]));

        // Answer in the opposite order.
        vmm1.Reply(new TdVmcallCompleted(1, 30, GprMask.R12, ModuleHarness.Regs((Gpr.R12, 201))));
        vmm0.Reply(new TdVmcallCompleted(0, 30, GprMask.R12, ModuleHarness.Regs((Gpr.R12, 101))));
        Assert.Equal(201UL, vcpu1.ExpectMsg<TdcallCompleted>(c => c.Vcpu == 1).Regs[Gpr.R12]);
        Assert.Equal(101UL, vcpu0.ExpectMsg<TdcallCompleted>(c => c.Vcpu == 0).Regs[Gpr.R12]);
    }

    [Fact]
    public void BadSelect_IsCompletedWithoutReachingTheVmm()
    {
        TestProbe vmm = CreateTestProbe("vmm");
        TestProbe vcpu = CreateTestProbe("vcpu0");
        IActorRef module = Sys.ActorOf(TdxModuleActor.CreateProps(NewCore(), vmm.Ref), "tdx-module");
        vcpu.Send(module, Vmcall(0, GprMask.Rsp | GprMask.R11, default));
        Assert.Equal(0xC000_0100_0000_0001UL, vcpu.ExpectMsg<TdcallCompleted>().CompletionStatus);
        vmm.ExpectNoMsg(TimeSpan.FromMilliseconds(50));
    }

    [Fact]
    public void TdExit_IsAnsweredWithTdEntered()
    {
        DeliveryRecorder deliveries = RecordDeliveries();
        TestProbe vmm = CreateTestProbe("vmm");
        TestProbe vcpu = CreateTestProbe("vcpu1");
        IActorRef vcpuRelay = Sys.ActorOf(RelayTo(vcpu.Ref), "vcpu-relay");
        IActorRef module = ActorOfStarted(TdxModuleActor.CreateProps(NewCore(), vmm.Ref), "tdx-module");
        var cpuid = new VeInfo(VeExitReason.Cpuid, 0, 0, 0, 2, 0);
        TellWithCorrelation(module, new TdExited(1, cpuid, ModuleHarness.Regs((Gpr.Rax, 0x21))), vcpuRelay, 77);
        TdEntered emulated = vcpu.ExpectMsg<TdEntered>();
        Assert.Equal(77, deliveries.CorrelationOf<TdEntered>());
        Assert.Equal(TdEntryAction.Emulated, emulated.Action);
        Assert.Equal(0x6574_6E49UL, emulated.Regs[Gpr.Rbx]);

        vcpu.Send(module, new TdExited(1, new VeInfo(VeExitReason.Hlt, 0, 0, 0, 1, 0), default));
        Assert.Equal(TdEntryAction.VeInjected, vcpu.ExpectMsg<TdEntered>().Action);
        vmm.ExpectNoMsg(TimeSpan.FromMilliseconds(50));
    }

    [Fact]
    public void TdcallStoppedByAnOperandFault_IsAnsweredWithTdEntered()
    {
        TestProbe vmm = CreateTestProbe("vmm");
        TestProbe vcpu = CreateTestProbe("vcpu0");
        IActorRef module = Sys.ActorOf(TdxModuleActor.CreateProps(NewCore(attributes: 0, initial: TdPageState.Pending), vmm.Ref), "tdx-module");
        vcpu.Send(module, new TdcallRequested(0, ModuleHarness.Regs((Gpr.Rax, (ulong)TdcallLeaf.MrReport), (Gpr.Rcx, 0x1_0000), (Gpr.Rdx, 0x2_0000))));
        TdEntered fault = vcpu.ExpectMsg<TdEntered>();
        Assert.Equal(TdEntryAction.VeInjected, fault.Action);
        Assert.Equal(0x2_0000UL, fault.Exit.Gpa);
    }
}
