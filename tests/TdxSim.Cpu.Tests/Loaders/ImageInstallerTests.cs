using TdxSim.Images;
using TdxSim.Memory;

namespace TdxSim.Cpu.Tests.Loaders;

public sealed class ImageInstallerTests
{
    private static GuestImage ElfWithBss()
    {
        var w = new ElfWriter { Entry = 0x1_0000 };
        w.AddLoad(0x1_0000, [0xF4, 0x90, 0x90], ElfFlags.R | ElfFlags.X);
        w.AddLoad(0x1_1000, [1, 2, 3, 4], ElfFlags.R | ElfFlags.W, memSize: 0x2100);
        return ImageLoader.Load(w.Build(), new ImageLoadOptions { MemoryBytes = 0x4_0000 });
    }

    [Fact]
    public void Install_WritesFileBytesAndZeroFillsTheRest()
    {
        using var memory = new GuestPhysicalMemory(0x4_0000);
        byte[] junk = Enumerable.Repeat((byte)0xCC, 0x3000).ToArray();
        Assert.True(memory.TryWritePrivate(0x1_1000, junk));

        ImageInstaller.Install(ElfWithBss(), memory);

        var text = new byte[3];
        Assert.True(memory.TryReadPrivate(0x1_0000, text));
        Assert.Equal([0xF4, 0x90, 0x90], text);
        var data = new byte[0x3000];
        Assert.True(memory.TryReadPrivate(0x1_1000, data));
        Assert.Equal([1, 2, 3, 4], data[..4]);
        Assert.All(data[4..0x2100], b => Assert.Equal(0, b));
        Assert.All(data[0x2100..], b => Assert.Equal(0xCC, b)); // past p_memsz: untouched
    }

    [Fact]
    public void Install_LazyAcceptMemory_AcceptsTheImagePagesOnly()
    {
        using var memory = new GuestPhysicalMemory(0x4_0000, acceptAll: false);

        ImageInstaller.Install(ElfWithBss(), memory);

        Assert.Equal(PageState.Accepted, memory.GetPageState(0x1_0000));
        Assert.Equal(PageState.Accepted, memory.GetPageState(0x1_3000));
        Assert.Equal(PageState.Pending, memory.GetPageState(0x1_4000));
        Assert.Equal(PageState.Pending, memory.GetPageState(0xF000));
    }

    [Fact]
    public void Install_IntoSmallerMemory_IsRejected()
    {
        using var memory = new GuestPhysicalMemory(0x1_2000);

        var e = Assert.Throws<ImageFormatException>(() => ImageInstaller.Install(ElfWithBss(), memory));

        Assert.Equal("image does not fit in private memory: segment 1 at 0x11000 ends at 0x13100 > 0x12000", e.Message);
    }

    [Fact]
    public void Install_OntoSharedPages_IsRejected()
    {
        using var memory = new GuestPhysicalMemory(0x4_0000);
        Assert.Equal(ConversionResult.Success, memory.ConvertToShared(0x1_2000, 0x1000));

        var e = Assert.Throws<ImageFormatException>(() => ImageInstaller.Install(ElfWithBss(), memory));

        Assert.Equal("segment 1 at 0x11000 covers memory that is not accepted private memory (converted to shared?)", e.Message);
    }
}
