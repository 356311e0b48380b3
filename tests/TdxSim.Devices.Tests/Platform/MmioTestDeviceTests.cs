using TdxSim.Devices.Platform;

namespace TdxSim.Devices.Tests.Platform;

public class MmioTestDeviceTests
{
    private readonly MmioTestDevice _device = new();

    [Theory]
    [InlineData(1, 0x12UL)]
    [InlineData(2, 0x1234UL)]
    [InlineData(4, 0x1234_5678UL)]
    [InlineData(8, 0x1234_5678_90AB_CDEFUL)]
    public void Scratch_ReadReturnsLastWrite_AtEverySize(int size, ulong value)
    {
        _device.Write(0, 8, ulong.MaxValue);
        _device.Write(0, size, value);

        Assert.Equal(value, _device.Read(0, size));
        ulong untouched = size == 8 ? 0 : ulong.MaxValue << (8 * size);
        Assert.Equal(untouched | value, _device.Read(0, 8)); // bytes above the write kept
    }

    [Fact]
    public void Scratch_SubAccesses_AreLittleEndianConsistent()
    {
        _device.Write(0, 8, 0x1122_3344_5566_7788);

        Assert.Equal(0x88UL, _device.Read(0, 1));
        Assert.Equal(0x11UL, _device.Read(7, 1));
        Assert.Equal(0x5566UL, _device.Read(2, 2));
        Assert.Equal(0x1122_3344UL, _device.Read(4, 4));

        _device.Write(1, 1, 0xAB);
        Assert.Equal(0x1122_3344_5566_AB88UL, _device.Read(0, 8));
        _device.Write(6, 2, 0xCDEF);
        Assert.Equal(0xCDEF_3344_5566_AB88UL, _device.Scratch);
    }

    [Fact]
    public void AccessCount_CountsReadsAndWrites_BeforeTheAccess()
    {
        Assert.Equal(1UL, _device.Read(8, 8)); // the first access ever sees itself

        _device.Write(0, 4, 1);
        _device.Read(0, 1);
        _device.Write(8, 8, 0); // read-only: ignored, but counted

        Assert.Equal(5UL, _device.Read(8, 8));
        Assert.Equal(5UL, _device.Accesses);
        Assert.Equal(1UL, _device.Scratch);
    }

    [Fact]
    public void AccessStraddlingRegisters_SeesBytesOfBoth()
    {
        _device.Write(0, 8, 0xAABB_0000_0000_0000);

        Assert.Equal(0x0002_AABBUL, _device.Read(6, 4)); // scratch bytes 6-7, then count bytes 0-1 (count = 2)
    }

    [Theory]
    [InlineData(0x10UL)]
    [InlineData(0x800UL)]
    [InlineData(0xFF8UL)]
    public void OtherOffsets_ReadZero_IgnoreWrites(ulong offset)
    {
        _device.Write(offset, 8, ulong.MaxValue);

        Assert.Equal(0UL, _device.Read(offset, 8));
        Assert.Equal(0UL, _device.Scratch);
    }
}
