using TdxSim.Images;
using static Iced.Intel.AssemblerRegisters;

namespace TdxSim.Cpu.Tests.Loaders;

public sealed class FlatLoaderTests
{
    private static readonly byte[] Code = GuestProgram.Assemble(0x10_0000, a =>
    {
        a.mov(eax, 1);
        a.hlt();
    }).Code;

    private static string Fails(byte[] bytes, ImageLoadOptions? options = null) =>
        Assert.Throws<ImageFormatException>(() => ImageLoader.Load(bytes, options)).Message;

    [Fact]
    public void Load_BytesWithoutElfMagic_LoadAsFlatAtTheDefaultAddress()
    {
        GuestImage image = ImageLoader.Load(Code);

        Assert.Equal(GuestImageFormat.Flat, image.Format);
        Assert.Equal(0x10_0000UL, image.Entry);
        ImageSegment segment = Assert.Single(image.Segments);
        Assert.Equal(0x10_0000UL, segment.Gpa);
        Assert.Equal((ulong)Code.Length, segment.MemorySize);
        Assert.Equal(Code, segment.Data.ToArray());
    }

    [Fact]
    public void Load_NearlyElfMagic_IsFlat()
    {
        byte[] bytes = [0x7F, (byte)'E', (byte)'L', (byte)'X', 0x90];

        Assert.False(ImageLoader.IsElf(bytes));
        Assert.Equal(GuestImageFormat.Flat, ImageLoader.Load(bytes).Format);
    }

    [Fact]
    public void Load_LoadAddressAndEntryOptions_AreHonoured()
    {
        var options = new ImageLoadOptions { LoadAddress = 0x20_0000, Entry = 0x20_0005 };

        GuestImage image = ImageLoader.Load(Code, options);

        Assert.Equal(0x20_0000UL, image.Segments[0].Gpa);
        Assert.Equal(0x20_0005UL, image.Entry);
    }

    [Fact]
    public void LoadFlat_ElfBytes_AreTakenAsFlat()
    {
        byte[] bytes = [0x7F, (byte)'E', (byte)'L', (byte)'F', 0xF4];

        GuestImage image = ImageLoader.LoadFlat(bytes);

        Assert.Equal(GuestImageFormat.Flat, image.Format);
        Assert.Equal(bytes, image.Segments[0].Data.ToArray());
    }

    [Fact]
    public void Load_Empty_IsRejected()
    {
        Assert.Equal("image is empty (0 bytes)", Fails([]));
        Assert.Equal("image is empty (0 bytes)", Assert.Throws<ImageFormatException>(() => ImageLoader.LoadFlat([])).Message);
    }

    [Fact]
    public void Load_MisalignedLoadAddress_IsRejected()
    {
        Assert.Equal(
            "flat image load address 0x100010 is not 4 KiB aligned",
            Fails(Code, new ImageLoadOptions { LoadAddress = 0x10_0010 }));
    }

    [Fact]
    public void Load_ImageEndingPastPrivateMemory_IsRejected()
    {
        var bytes = new byte[0x1010];

        Assert.Equal(
            "image does not fit in private memory: segment 0 at 0x3fff000 ends at 0x4000010 > 0x4000000",
            Fails(bytes, new ImageLoadOptions { LoadAddress = 0x3FF_F000 }));
    }

    [Fact]
    public void Load_LoadAddressBeyondPrivateMemory_IsRejected()
    {
        Assert.StartsWith(
            "image does not fit in private memory: segment 0 at 0x8000000 ends at 0x80000",
            Fails(Code, new ImageLoadOptions { LoadAddress = 0x800_0000 }));
    }

    [Fact]
    public void Load_SharedLoadAddress_IsRejected()
    {
        Assert.Equal(
            "segment 0 at 0x800000100000 has the shared bit (bit 47) set: images load into private memory",
            Fails(Code, new ImageLoadOptions { LoadAddress = (1UL << 47) | 0x10_0000 }));
    }

    [Fact]
    public void Load_ImageOnTheStacks_IsRejected()
    {
        var bytes = new byte[0x1_0000];
        var options = new ImageLoadOptions { LoadAddress = 0x3FF_0000, VcpuStacks = 1 };

        Assert.Equal(
            "image overlaps the vCPU stacks: segment 0 at 0x3ff0000 ends at 0x4000000 > 0x3ff0000 (1 vCPU x 64 KiB at the top of private memory)",
            Fails(bytes, options));
    }

    [Theory]
    [InlineData(0xF_FFFFUL)]
    [InlineData(0x10_0000UL + 6)]
    public void Load_EntryOutsideTheImage_IsRejected(ulong entry)
    {
        Assert.Equal(6, Code.Length); // mov eax, imm32 (5) + hlt (1): the second case is one past the end
        Assert.Equal(
            $"entry point 0x{entry:x} (overridden) is outside the loaded image ([0x100000, 0x{0x10_0000 + Code.Length:x}))",
            Fails(Code, new ImageLoadOptions { Entry = entry }));
    }
}
