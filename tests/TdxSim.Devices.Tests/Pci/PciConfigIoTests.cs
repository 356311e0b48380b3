using TdxSim.Devices.Bus;
using TdxSim.Devices.Pci;

namespace TdxSim.Devices.Tests.Pci;

public class PciConfigIoTests
{
    private readonly DeviceBus _ports = DeviceBus.CreatePortBus();
    private readonly PciConfigIo _pci = new();

    public PciConfigIoTests()
    {
        _pci.AddFunction(0, 0, 0, PciHostBridge.Create());
        _ports.Register(0xCF8, PciConfigIo.Length, _pci);
    }

    private void Select(uint address) => _ports.Write(0xCF8, 4, address);

    private ulong ReadConfig(int bus, int device, int function, int register, int lane = 0, int size = 4)
    {
        Select(PciConfigIo.Address(bus, device, function, register));
        return _ports.Read(0xCFCUL + (ulong)lane, size);
    }

    [Fact]
    public void HostBridge_VendorAndDeviceId()
    {
        Assert.Equal(0x29C0_8086UL, ReadConfig(0, 0, 0, 0x00));
    }

    [Fact]
    public void HostBridge_ClassCodeIsHostBridge()
    {
        ulong dword = ReadConfig(0, 0, 0, 0x08);

        Assert.Equal(0x0600UL, dword >> 16); // base class 06, sub-class 00
        Assert.Equal(0x00UL, (dword >> 8) & 0xFF); // programming interface
        Assert.Equal(0x00UL, ReadConfig(0, 0, 0, 0x0C) >> 16 & 0xFF); // header type 0
    }

    [Theory]
    [InlineData(0, 1, 0x86UL)]
    [InlineData(1, 1, 0x80UL)]
    [InlineData(2, 1, 0xC0UL)]
    [InlineData(3, 1, 0x29UL)]
    [InlineData(0, 2, 0x8086UL)]
    [InlineData(2, 2, 0x29C0UL)]
    public void Data_SubDwordAccess_ReachesByteLane(int lane, int size, ulong expected)
    {
        Assert.Equal(expected, ReadConfig(0, 0, 0, 0x00, lane, size));
    }

    [Theory]
    [InlineData(1, 4)]
    [InlineData(2, 4)]
    [InlineData(3, 2)]
    public void Data_AccessCrossingDword_ReadsOnes(int lane, int size)
    {
        Assert.Equal(AccessSize.Mask(size), ReadConfig(0, 0, 0, 0x00, lane, size));
    }

    [Fact]
    public void Data_EnableBitClear_ReadsOnes_AndWritesIgnored()
    {
        Select(0x0000_0004); // command register of 00:00.0, enable bit clear
        Assert.Equal(0xFFFF_FFFFUL, _ports.Read(0xCFC, 4));
        _ports.Write(0xCFC, 2, 0x0006);

        Assert.Equal(0UL, ReadConfig(0, 0, 0, 0x04) & 0xFFFF);
    }

    [Theory]
    [InlineData(0, 1, 0)]
    [InlineData(0, 0, 1)]
    [InlineData(1, 0, 0)]
    [InlineData(255, 31, 7)]
    public void AbsentFunction_ReadsOnes(int bus, int device, int function)
    {
        Assert.Equal(0xFFFF_FFFFUL, ReadConfig(bus, device, function, 0x00));
        Assert.Equal(0xFFFFUL, ReadConfig(bus, device, function, 0x00, 2, 2));
    }

    [Fact]
    public void AbsentFunction_WriteIsIgnored()
    {
        Select(PciConfigIo.Address(0, 1, 0, 0x04));
        _ports.Write(0xCFC, 4, 0x0000_0007);

        Assert.Equal(0UL, ReadConfig(0, 0, 0, 0x04) & 0xFFFF); // the bridge did not get it
    }

    [Fact]
    public void ConfigAddress_ReadsBack_WithReservedBitsClear()
    {
        Select(0xFF00_0803);

        Assert.Equal(0x8000_0800UL, _ports.Read(0xCF8, 4));
        Assert.Equal(0x08UL, _ports.Read(0xCF9, 1));
        Assert.Equal(0x80UL, _ports.Read(0xCFB, 1));
    }

    [Fact]
    public void ConfigAddress_OnlyDwordWriteAtCf8Loads()
    {
        // Linux's pci_check_type1 pokes 0xCFB with a byte, then writes and reads back 0x80000000 at 0xCF8.
        Select(0x8000_0000);
        _ports.Write(0xCFB, 1, 0x01);
        _ports.Write(0xCF8, 2, 0x1234);

        Assert.Equal(0x8000_0000UL, _ports.Read(0xCF8, 4));
    }

    [Fact]
    public void Command_OnlyWritableBitsChange()
    {
        Select(PciConfigIo.Address(0, 0, 0, 0x04));
        _ports.Write(0xCFC, 4, 0xFFFF_FFFF);

        ulong dword = ReadConfig(0, 0, 0, 0x04);
        Assert.Equal((ulong)PciHostBridge.CommandWriteMask, dword & 0xFFFF);
        Assert.Equal(0UL, dword >> 16); // status: nothing writable
    }

    [Fact]
    public void ReadOnlyIds_IgnoreWrites_InterruptLineIsWritable()
    {
        Select(PciConfigIo.Address(0, 0, 0, 0x00));
        _ports.Write(0xCFC, 4, 0x1234_5678);
        Select(PciConfigIo.Address(0, 0, 0, 0x3C));
        _ports.Write(0xCFC, 1, 0x0B);

        Assert.Equal(0x29C0_8086UL, ReadConfig(0, 0, 0, 0x00));
        Assert.Equal(0x0BUL, ReadConfig(0, 0, 0, 0x3C) & 0xFF);
    }

    [Fact]
    public void AddFunction_TwiceOrOutOfRange_Throws()
    {
        Assert.Throws<ArgumentException>(() => _pci.AddFunction(0, 0, 0, new PciConfigSpace()));
        Assert.Throws<ArgumentOutOfRangeException>(() => _pci.AddFunction(0, 32, 0, new PciConfigSpace()));
        Assert.Throws<ArgumentOutOfRangeException>(() => _pci.AddFunction(0, 0, 8, new PciConfigSpace()));
    }
}
