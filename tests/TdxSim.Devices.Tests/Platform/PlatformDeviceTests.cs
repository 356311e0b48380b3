using TdxSim.Abi.Messages;
using TdxSim.Devices.Bus;
using TdxSim.Devices.Platform;

namespace TdxSim.Devices.Tests.Platform;

public class PlatformDeviceTests
{
    private readonly RecordingEvents _events = new();

    [Theory]
    [InlineData(0x00, 1)]
    [InlineData(0x10, 33)]
    [InlineData(0xFF, 511)]
    public void DebugExit_Write_RequestsStopWithQemuExitStatus(byte value, int status)
    {
        var device = new DebugExit(_events);

        device.Write(0, 1, value);

        var stop = Assert.Single(_events.Stops);
        Assert.Equal(GuestStopKind.DebugExit, stop.Kind);
        Assert.Equal(value, stop.Value);
        Assert.Equal(status, DebugExit.ExitStatusFor(value));
        Assert.Contains($"exit status {status}", stop.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public void DebugExit_Read_ReturnsOnes_AndRaisesNothing()
    {
        var device = new DebugExit(_events);

        Assert.Equal(0xFFUL, device.Read(0, 1));
        Assert.Empty(_events.Stops);
    }

    [Fact]
    public void Selftest_SuccessPort_AnyWriteStops()
    {
        var device = new SelftestPorts(_events);

        device.Write(SelftestPorts.SuccessOffset, 4, 0);

        Assert.Equal(GuestStopKind.SelftestSuccess, Assert.Single(_events.Stops).Kind);
        Assert.Empty(_events.Reports);
    }

    [Fact]
    public void Selftest_ReportPort_AppendsEachValueInOrder()
    {
        var device = new SelftestPorts(_events);

        device.Write(SelftestPorts.ReportOffset, 4, 0x9ABC_DEF0); // a 64-bit value, low half first
        device.Write(SelftestPorts.ReportOffset, 4, 0x1234_5678);
        device.Write(SelftestPorts.ReportOffset, 1, 0x7);

        Assert.Equal([0x9ABC_DEF0UL, 0x1234_5678UL, 0x7UL], _events.Reports);
        Assert.Empty(_events.Stops);
    }

    [Fact]
    public void Selftest_DwordOutToSuccessPortOnBus_DoesNotReachReportPort()
    {
        var bus = DeviceBus.CreatePortBus();
        bus.Register(0x30, SelftestPorts.Length, new SelftestPorts(_events));

        bus.Write(0x30, 4, 0xFFFF_FFFF);

        Assert.Single(_events.Stops);
        Assert.Empty(_events.Reports);
    }

    [Fact]
    public void PostCode_LogsLowByte_AndLatchesIt()
    {
        var device = new PostCodePort(_events);
        Assert.Equal(0UL, device.Read(0, 1));

        device.Write(0, 1, 0x55);
        device.Write(0, 2, 0x1AA);

        Assert.Equal(new byte[] { 0x55, 0xAA }, _events.PostCodes);
        Assert.Equal(0xAA, device.LastCode);
        Assert.Equal(0xAAUL, device.Read(0, 1));
    }
}
