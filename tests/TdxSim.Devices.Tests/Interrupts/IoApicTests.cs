using TdxSim.Devices.Interrupts;

namespace TdxSim.Devices.Tests.Interrupts;

public class IoApicTests
{
    private readonly IoApic _ioapic = new();

    private uint ReadRegister(byte register)
    {
        _ioapic.Write(0x00, 4, register);
        return (uint)_ioapic.Read(0x10, 4);
    }

    private void WriteRegister(byte register, uint value)
    {
        _ioapic.Write(0x00, 4, register);
        _ioapic.Write(0x10, 4, value);
    }

    [Fact]
    public void Version_Is0x00170020()
    {
        Assert.Equal(0x0017_0020u, ReadRegister(0x01));
    }

    [Fact]
    public void Id_OnlyBits27To24AreWritable_ArbitrationFollows()
    {
        WriteRegister(0x00, 0xFFFF_FFFF);

        Assert.Equal(0x0F00_0000u, ReadRegister(0x00));
        Assert.Equal(0x0F00_0000u, ReadRegister(0x02));
        Assert.Equal(0x0F, _ioapic.Id);
    }

    [Fact]
    public void Version_IsReadOnly()
    {
        WriteRegister(0x01, 0);

        Assert.Equal(0x0017_0020u, ReadRegister(0x01));
    }

    [Fact]
    public void RedirectionEntries_AllMaskedAtReset()
    {
        for (int pin = 0; pin < 24; pin++)
        {
            Assert.Equal(0x0001_0000u, ReadRegister((byte)(0x10 + (2 * pin))));
            Assert.Equal(0u, ReadRegister((byte)(0x11 + (2 * pin))));
            Assert.Equal(1UL << 16, _ioapic.RedirectionEntry(pin));
        }
    }

    [Theory]
    [InlineData(0)]
    [InlineData(4)]
    [InlineData(23)]
    public void RedirectionEntry_WritableBitsStick_ReadOnlyBitsStayClear(int pin)
    {
        WriteRegister((byte)(0x10 + (2 * pin)), 0xFFFF_FFFF);
        WriteRegister((byte)(0x11 + (2 * pin)), 0xFFFF_FFFF);

        Assert.Equal(0x0001_AFFFu, ReadRegister((byte)(0x10 + (2 * pin)))); // delivery status (12), remote IRR (14), 31:17 clear
        Assert.Equal(0xFFFF_0000u, ReadRegister((byte)(0x11 + (2 * pin))));

        WriteRegister((byte)(0x10 + (2 * pin)), 0x0000_0031); // vector 0x31, fixed, unmasked
        Assert.Equal(0xFFFF_0000_0000_0031UL, _ioapic.RedirectionEntry(pin));
    }

    [Fact]
    public void Entries_AreIndependent()
    {
        WriteRegister(0x12, 0x41);

        Assert.Equal(0x41UL, _ioapic.RedirectionEntry(1));
        Assert.Equal(1UL << 16, _ioapic.RedirectionEntry(0));
        Assert.Equal(1UL << 16, _ioapic.RedirectionEntry(2));
    }

    [Theory]
    [InlineData(0x03)]
    [InlineData(0x0F)]
    [InlineData(0x40)]
    [InlineData(0xFF)]
    public void UnknownIndirectRegister_ReadsZero(byte register)
    {
        WriteRegister(register, 0xFFFF_FFFF);

        Assert.Equal(0u, ReadRegister(register));
    }

    [Fact]
    public void RegisterSelect_ReadsBack()
    {
        _ioapic.Write(0x00, 1, 0x3F);

        Assert.Equal(0x3FUL, _ioapic.Read(0x00, 4));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(8)]
    public void Window_NonDwordAccess_ReadsZeroAndIsIgnored(int size)
    {
        _ioapic.Write(0x00, 4, 0x10);
        _ioapic.Write(0x10, size, 0x55);

        Assert.Equal(0UL, _ioapic.Read(0x10, size));
        Assert.Equal(1UL << 16, _ioapic.RedirectionEntry(0));
    }
}
