using TdxSim.Abi;
using TdxSim.Abi.Messages;
using TdxSim.Devices.Bus;
using TdxSim.Vmm;

namespace TdxSim.Devices.Tests.Vmm;

public class InstructionIoTests
{
    private readonly VmmBed _bed = new();

    [Fact]
    public void Out_Com1Thr_TransmitsByte()
    {
        TdVmcallCompleted reply = _bed.PortOut(0x3F8, 1, 'H');

        Assert.Equal(TdVmcall.Success, reply.VmcallStatus);
        Assert.Equal("H", _bed.Com1.Text);
    }

    [Fact]
    public void In_Com1Lsr_ReturnsValueInR11()
    {
        TdVmcallCompleted reply = _bed.PortIn(0x3FD, 1);

        Assert.Equal(TdVmcall.Success, reply.VmcallStatus);
        Assert.Equal(0x60UL, reply.Regs[Gpr.R11]);
    }

    [Theory]
    [InlineData(1, 0xFFUL)]
    [InlineData(2, 0xFFFFUL)]
    [InlineData(4, 0xFFFF_FFFFUL)]
    public void In_UnclaimedPort_AllOnesForSize(int size, ulong expected)
    {
        Assert.Equal(expected, _bed.PortIn(0x2F8, size).Regs[Gpr.R11]);
    }

    [Theory]
    [InlineData(0UL, 1UL, 0x80UL)]
    [InlineData(3UL, 1UL, 0x80UL)]
    [InlineData(5UL, 1UL, 0x80UL)] // verify_guest_writes: size 5 never reaches the host
    [InlineData(8UL, 1UL, 0x80UL)]
    [InlineData(1UL, 2UL, 0x80UL)]
    [InlineData(1UL, ulong.MaxValue, 0x80UL)]
    [InlineData(1UL, 1UL, 0x1_0000UL)]
    public void BadOperand_IsInvalidOperand_AndHasNoEffect(ulong size, ulong direction, ulong port)
    {
        VmcallOutcome outcome = _bed.Call(TdVmcallSubfunction.InstructionIo, size, direction, port, 0x12);

        Assert.Equal(TdVmcall.InvalidOperand, outcome.Reply!.VmcallStatus);
        Assert.Empty(outcome.Events);
        Assert.Equal(0, _bed.Devices.GetCounters()["device.post.writes"]);
    }

    [Fact]
    public void Out_ValueMaskedToSize()
    {
        VmcallOutcome outcome = _bed.Call(TdVmcallSubfunction.InstructionIo, 1, TdVmcall.IoDirectionOut, 0x31, 0x1FF);

        Assert.Equal(new SelftestReported(0, 0xFF), Assert.Single(outcome.Events));
    }

    [Fact]
    public void Out_SuccessPort_StopsWithSelftestSuccess()
    {
        VmcallOutcome outcome = _bed.Call(TdVmcallSubfunction.InstructionIo, 4, TdVmcall.IoDirectionOut, 0x30, 0, vcpu: 1);

        var stop = Assert.IsType<GuestStopRequested>(Assert.Single(outcome.Events));
        Assert.Equal((1, GuestStopKind.SelftestSuccess), (stop.Vcpu, stop.Kind));
        Assert.Equal(TdVmcall.Success, outcome.Reply!.VmcallStatus);
    }

    [Fact]
    public void Out_ReportPort_SixtyFourBitValueAsTwoWrites()
    {
        var events = new List<ITdxMessage>();
        events.AddRange(_bed.Call(TdVmcallSubfunction.InstructionIo, 4, TdVmcall.IoDirectionOut, 0x31, 0x9ABC_DEF0).Events);
        events.AddRange(_bed.Call(TdVmcallSubfunction.InstructionIo, 4, TdVmcall.IoDirectionOut, 0x31, 0x1234_5678).Events);

        Assert.Equal([new SelftestReported(0, 0x9ABC_DEF0), new SelftestReported(0, 0x1234_5678)], events);
    }

    [Fact]
    public void Out_DebugExit_StopsWithByte()
    {
        VmcallOutcome outcome = _bed.Call(TdVmcallSubfunction.InstructionIo, 1, TdVmcall.IoDirectionOut, 0xF4, 0x21, vcpu: 2);

        var stop = Assert.IsType<GuestStopRequested>(Assert.Single(outcome.Events));
        Assert.Equal((2, GuestStopKind.DebugExit, 0x21UL), (stop.Vcpu, stop.Kind, stop.Value));
    }

    [Fact]
    public void Out_PostCode_IsReported()
    {
        VmcallOutcome outcome = _bed.Call(TdVmcallSubfunction.InstructionIo, 1, TdVmcall.IoDirectionOut, 0x80, 0x5A);

        Assert.Equal(new PostCodeWritten(0, 0x5A), Assert.Single(outcome.Events));
    }

    [Fact]
    public void SelftestIoExit_ScenarioDeviceAnswersInMinusOutIsOne()
    {
        // verify_td_ioexit: OUT 0x50 size 1 value 0xAB; IN 0x50 size 1; the host supplies 0xAC.
        var device = new IncrementingPort();
        _bed.Devices.PortBus.Register(0x50, 1, device);

        _bed.PortOut(0x50, 1, 0xAB);
        ulong read = _bed.PortIn(0x50, 1).Regs[Gpr.R11];

        Assert.Equal(0xACUL, read);
    }

    [Theory]
    [InlineData(1, 0xABUL)]
    [InlineData(2, 0xABCDUL)]
    [InlineData(4, 0xFFAB_CDEFUL)]
    public void SelftestGuestWritesAndReads_EverySize(int size, ulong value)
    {
        var device = new IncrementingPort();
        _bed.Devices.PortBus.Register(0x51, 1, device);

        _bed.PortOut(0x51, size, value);

        Assert.Equal((value, size), (device.Last, device.LastSize));
        Assert.Equal((value + 1) & AccessSize.Mask(size), _bed.PortIn(0x51, size).Regs[Gpr.R11]);
    }

    private sealed class IncrementingPort : IIoDevice
    {
        public ulong Last { get; private set; }

        public int LastSize { get; private set; }

        public string Name => "scenario-port";

        public ulong Read(ulong offset, int size) => Last + 1;

        public void Write(ulong offset, int size, ulong value) => (Last, LastSize) = (value, size);
    }
}
