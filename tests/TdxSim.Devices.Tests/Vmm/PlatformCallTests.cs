using TdxSim.Abi;
using TdxSim.Abi.Messages;
using TdxSim.Vmm;

namespace TdxSim.Devices.Tests.Vmm;

/// <summary>HLT, GetTdVmCallInfo, SetupEventNotifyInterrupt, ReportFatalError.</summary>
public class PlatformCallTests
{
    private readonly VmmBed _bed = new();

    [Fact]
    public void Hlt_BlocksWithoutReply_UntilWoken()
    {
        VmcallOutcome outcome = _bed.Call(TdVmcallSubfunction.InstructionHlt, 0, vcpu: 2);

        Assert.Equal(VmcallDisposition.Halted, outcome.Disposition);
        Assert.Null(outcome.Reply);
        Assert.Equal(new VcpuHalted(2, false), Assert.Single(outcome.Events));
        Assert.True(_bed.Vmm.IsHalted(2));
        Assert.False(_bed.Vmm.IsHalted(0));

        TdVmcallCompleted? reply = _bed.Vmm.Wake(2);

        Assert.NotNull(reply);
        Assert.Equal((2, (ulong)TdVmcallSubfunction.InstructionHlt, TdVmcall.Success), (reply.Vcpu, reply.Subfunction, reply.VmcallStatus));
        Assert.False(_bed.Vmm.IsHalted(2));
        Assert.Null(_bed.Vmm.Wake(2)); // waking twice is harmless
        IReadOnlyDictionary<string, long> c = _bed.Vmm.Counters.Snapshot();
        Assert.Equal(1, c["tdvmcall.Instruction.HLT.halted"]);
        Assert.Equal(1, c["tdvmcall.Instruction.HLT.SUCCESS"]);
    }

    [Fact]
    public void Hlt_WithInterruptsBlocked_SaysSo()
    {
        VmcallOutcome outcome = _bed.Call(TdVmcallSubfunction.InstructionHlt, 1);

        Assert.Equal(new VcpuHalted(0, true), Assert.Single(outcome.Events));
    }

    [Fact]
    public void Wake_NotHalted_ReturnsNull()
    {
        Assert.Null(_bed.Vmm.Wake(1));
    }

    [Fact]
    public void RequestWhileHalted_IsAProtocolError()
    {
        _bed.Call(TdVmcallSubfunction.InstructionHlt);

        Assert.Throws<InvalidOperationException>(() => _bed.PortIn(0x3FD, 1));
        _bed.Vmm.Wake(0);
        Assert.Equal(TdVmcall.Success, _bed.PortIn(0x3FD, 1).VmcallStatus);
    }

    [Fact]
    public void GetTdVmCallInfo_Leaf0_AllZero()
    {
        // verify_get_td_vmcall_info: R11..R14 = 0 whatever the guest left there.
        TdVmcallCompleted reply = _bed.Complete(TdVmcallSubfunction.GetTdVmCallInfo, 0, 0xAAAA, 0xBBBB, 0xCCCC);

        Assert.Equal(TdVmcall.Success, reply.VmcallStatus);
        Assert.Equal((0UL, 0UL, 0UL, 0UL), (reply.Regs[Gpr.R11], reply.Regs[Gpr.R12], reply.Regs[Gpr.R13], reply.Regs[Gpr.R14]));
    }

    [Fact]
    public void GetTdVmCallInfo_Leaf1_OptionalBitmap()
    {
        TdVmcallCompleted reply = _bed.Complete(TdVmcallSubfunction.GetTdVmCallInfo, 1, 0xAAAA);

        Assert.Equal(TdVmcall.Success, reply.VmcallStatus);
        Assert.Equal(1UL << 1, reply.Regs[Gpr.R11]); // SetupEventNotifyInterrupt
        Assert.Equal((0UL, 0UL, 0UL), (reply.Regs[Gpr.R12], reply.Regs[Gpr.R13], reply.Regs[Gpr.R14]));
    }

    [Theory]
    [InlineData(2UL)]
    [InlineData(0x1_0000_0000UL)]
    public void GetTdVmCallInfo_OtherLeaf_InvalidOperand(ulong leaf)
    {
        Assert.Equal(TdVmcall.InvalidOperand, _bed.Complete(TdVmcallSubfunction.GetTdVmCallInfo, leaf).VmcallStatus);
    }

    [Theory]
    [InlineData(0UL, false)]
    [InlineData(0x10UL, false)] // verify_setup_event_notify: 0x10 is refused
    [InlineData(31UL, false)]
    [InlineData(32UL, true)]
    [InlineData(255UL, true)]
    [InlineData(256UL, false)]
    [InlineData(0x1_0000_0020UL, false)]
    public void SetupEventNotifyInterrupt_VectorRange(ulong vector, bool accepted)
    {
        TdVmcallCompleted reply = _bed.Complete(TdVmcallSubfunction.SetupEventNotifyInterrupt, vector, vcpu: 1);

        Assert.Equal(accepted ? TdVmcall.Success : TdVmcall.InvalidOperand, reply.VmcallStatus);
        Assert.Equal(accepted ? (byte?)vector : null, _bed.Vmm.NotifyVector(1));
        Assert.Null(_bed.Vmm.NotifyVector(0));
    }

    [Fact]
    public void ReportFatalError_SelftestCode_StopsWithoutReply()
    {
        VmcallOutcome outcome = _bed.Call(TdVmcallSubfunction.ReportFatalError, 0x0BAA_AAAD_0000_0000, vcpu: 1);

        Assert.Equal(VmcallDisposition.NoReply, outcome.Disposition);
        Assert.Null(outcome.Reply);
        var stop = Assert.IsType<GuestStopRequested>(Assert.Single(outcome.Events));
        Assert.Equal((1, GuestStopKind.ReportedFatalError, 0x0BAA_AAAD_0000_0000UL), (stop.Vcpu, stop.Kind, stop.Value));
        Assert.Equal("ReportFatalError code 0x0BAAAAAD00000000", stop.Detail);
        Assert.Equal(1, _bed.Vmm.Counters.Snapshot()["tdvmcall.ReportFatalError.no_reply"]);
    }

    [Fact]
    public void ReportFatalError_Resume_RepliesSuccess()
    {
        var bed = new VmmBed(new VmmOptions { VcpuCount = 1, ResumeAfterReportFatalError = true });

        VmcallOutcome outcome = bed.Call(TdVmcallSubfunction.ReportFatalError, 0x0BAA_AAAD_0000_0000);

        Assert.Equal(TdVmcall.Success, outcome.Reply!.VmcallStatus);
        Assert.IsType<GuestStopRequested>(Assert.Single(outcome.Events));
    }

    [Fact]
    public void ReportFatalError_DataGpa_NamedWhenBit63Set()
    {
        VmcallOutcome outcome = _bed.Call(TdVmcallSubfunction.ReportFatalError, (1UL << 63) | 0x1234_0000_0000, 0x8000_1000);

        Assert.EndsWith("(data at GPA 0x80001000)", ((GuestStopRequested)outcome.Events[0]).Detail, StringComparison.Ordinal);
    }

    [Fact]
    public void ReportFatalError_MessageDecodedFromRegistersInGhciOrder()
    {
        const string message = "Kernel panic - not syncing: Fatal exception in interrupt";
        VmcallOutcome outcome = _bed.Vmm.Handle(VmmBed.Request(0x10003, 0, more: (ref Gprs r) => PackMessage(ref r, message)));

        Assert.Equal($"ReportFatalError code 0x0000000000000000: \"{message}\"", ((GuestStopRequested)outcome.Events[0]).Detail);
    }

    [Fact]
    public void FatalMessage_Full64Bytes_NoNul()
    {
        string message = new string('x', 60) + "WXYZ";
        Gprs regs = default;
        PackMessage(ref regs, message);

        Assert.Equal(message, VmmCore.DecodeFatalMessage(regs));
    }

    [Fact]
    public void FatalMessage_StopsAtNul_AndMasksNonPrintable()
    {
        Gprs regs = default;
        regs[Gpr.R14] = 0x0041_0A7F_4242; // "BB", DEL, LF, "A", NUL

        Assert.Equal("BB??A", VmmCore.DecodeFatalMessage(regs));
    }

    [Fact]
    public void FatalMessage_OnlySelectedRegisters()
    {
        // Linux 5.19 to 6.5 selected R10 to R15 only: the VMM sees the first 16 bytes of the message.
        const string message = "0123456789abcdefGHIJ";
        VmcallOutcome outcome = _bed.Vmm.Handle(VmmBed.Request(0x10003, 0, select: 0xFC00, more: (ref Gprs r) => PackMessage(ref r, message)));

        Assert.EndsWith("\"0123456789abcdef\"", ((GuestStopRequested)outcome.Events[0]).Detail, StringComparison.Ordinal);
    }

    private static void PackMessage(ref Gprs regs, string message)
    {
        Gpr[] order = [Gpr.R14, Gpr.R15, Gpr.Rbx, Gpr.Rdi, Gpr.Rsi, Gpr.R8, Gpr.R9, Gpr.Rdx];
        var bytes = new byte[64];
        System.Text.Encoding.ASCII.GetBytes(message).CopyTo(bytes, 0);
        for (int i = 0; i < 8; i++)
        {
            regs[order[i]] = BitConverter.ToUInt64(bytes, i * 8);
        }
    }
}
