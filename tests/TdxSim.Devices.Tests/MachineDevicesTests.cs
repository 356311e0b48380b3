using TdxSim.Devices.Bus;

namespace TdxSim.Devices.Tests;

public class MachineDevicesTests
{
    private readonly RecordingEvents _events = new();
    private readonly MemoryByteSink _com1 = new();
    private readonly MachineDevices _devices;

    public MachineDevicesTests()
    {
        _devices = MachineDevices.CreateDefault(_com1, _events);
    }

    [Fact]
    public void DefaultPortMap_MatchesContract()
    {
        Assert.Equal(
            [("selftest", 0x30UL, 0x31UL), ("rtc", 0x70UL, 0x71UL), ("post", 0x80UL, 0x80UL), ("debug-exit", 0xF4UL, 0xF4UL), ("com1", 0x3F8UL, 0x3FFUL), ("pci-cfg", 0xCF8UL, 0xCFFUL)],
            _devices.PortBus.Ranges.Select(r => (r.Device.Name, r.Base, r.Last)));
    }

    [Fact]
    public void Cmos_rtc_reads_its_fixed_time_in_bcd_with_no_update_in_progress()
    {
        byte Cmos(byte index)
        {
            _devices.PortBus.Write(0x70, 1, index);
            return (byte)_devices.PortBus.Read(0x71, 1);
        }

        Assert.Equal(0, Cmos(0x0A) & 0x80);       // UIP clear: Linux reads the time at once
        Assert.Equal(0x02, Cmos(0x0B));           // 24-hour BCD
        Assert.Equal(0x80, Cmos(0x0D));           // valid
        Assert.Equal((0x26, 0x01, 0x01, 0x20), (Cmos(0x09), Cmos(0x08), Cmos(0x07), Cmos(0x32)));
        _devices.PortBus.Write(0x70, 1, 0x8E);    // NMI-mask bit set, CMOS RAM byte 0x0E
        _devices.PortBus.Write(0x71, 1, 0x5A);
        Assert.Equal(0x5A, Cmos(0x0E));
    }

    [Fact]
    public void DefaultMmioMap_MatchesContract()
    {
        Assert.Equal(
            [("mmio-test", 0xFEB0_0000UL, 0xFEB0_0FFFUL), ("ioapic", 0xFEC0_0000UL, 0xFEC0_0FFFUL)],
            _devices.MmioBus.Ranges.Select(r => (r.Device.Name, r.Base, r.Last)));
    }

    [Fact]
    public void Com1_TransmitsAndReportsTransmitterEmpty()
    {
        _devices.PortBus.Write(MachineDevices.Com1Base, 1, 'k');

        Assert.Equal("k", _com1.Text);
        Assert.Equal(0x60UL, _devices.PortBus.Read(0x3FD, 1) & 0x60);
    }

    [Fact]
    public void Pci_HostBridgeAnswersAtZeroZeroZero()
    {
        _devices.PortBus.Write(0xCF8, 4, 0x8000_0000);

        Assert.Equal(0x8086UL, _devices.PortBus.Read(0xCFC, 2));
    }

    [Fact]
    public void IoApic_VersionThroughMmioBus()
    {
        _devices.MmioBus.Write(MachineDevices.IoApicBase, 4, 1);

        Assert.Equal(0x0017_0020UL, _devices.MmioBus.Read(MachineDevices.IoApicBase + 0x10, 4));
    }

    [Theory]
    [InlineData(0x60UL, 1, 0xFFUL)]
    [InlineData(0x2F8UL, 2, 0xFFFFUL)]
    [InlineData(0xCF4UL, 4, 0xFFFF_FFFFUL)]
    public void UnclaimedPorts_ReadOnes(ulong port, int size, ulong expected)
    {
        Assert.Equal(expected, _devices.PortBus.Read(port, size));
    }

    [Fact]
    public void Counters_NameEveryDeviceAndBus()
    {
        _devices.PortBus.Read(0x3FD, 1);
        _devices.PortBus.Write(0x3F8, 1, 0);
        _devices.PortBus.Read(0x60, 1);
        _devices.MmioBus.Read(MachineDevices.MmioTestBase, 8);

        IReadOnlyDictionary<string, long> c = _devices.GetCounters();

        Assert.Equal(1, c["device.com1.reads"]);
        Assert.Equal(1, c["device.com1.writes"]);
        Assert.Equal(1, c["device.mmio-test.reads"]);
        Assert.Equal(0, c["device.ioapic.reads"]);
        Assert.Equal(1, c["bus.port.unclaimed_reads"]);
        Assert.Equal(0, c["bus.mmio.unclaimed_writes"]);
        Assert.Equal(8 * 2 + 4, c.Count);
    }

    [Fact]
    public void MachineMayAddDevices_ButNotOverlapping()
    {
        _devices.PortBus.Register(0x50, 1, new RecordingDevice("scenario"));

        Assert.Throws<ArgumentException>(() => _devices.PortBus.Register(0x3FC, 1, new RecordingDevice("clash")));
        Assert.True(_devices.PortBus.TryResolve(0x50, out IIoDevice? d, out _));
        Assert.Equal("scenario", d.Name);
    }
}
