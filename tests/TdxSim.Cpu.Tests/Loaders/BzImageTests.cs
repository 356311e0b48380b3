using System.Buffers.Binary;
using TdxSim.Images;

namespace TdxSim.Cpu.Tests.Loaders;

/// <summary>The Linux x86 boot-protocol loader (contract section 9): header checks, placement and the zero page.</summary>
public sealed class BzImageTests
{
    private const ulong Memory = 256UL << 20;

    /// <summary>A minimal bzImage: 1 setup sector after the boot sector, protocol 2.15, 64-bit entry, pref 16 MiB.</summary>
    private static byte[] Image(ushort version = 0x020F, ushort xloadflags = 0x3, uint initSize = 0x40_0000, int payload = 0x1000)
    {
        var b = new byte[(2 * 512) + payload];
        Span<byte> s = b;
        s[0x1F1] = 1;                                                 // setup_sects
        BinaryPrimitives.WriteUInt16LittleEndian(s[0x1FE..], 0xAA55);
        s[0x200] = 0xEB;
        s[0x201] = 0x6A;                                              // header ends at 0x26C
        BinaryPrimitives.WriteUInt32LittleEndian(s[0x202..], 0x53726448);
        BinaryPrimitives.WriteUInt16LittleEndian(s[0x206..], version);
        s[0x211] = 1;
        BinaryPrimitives.WriteUInt32LittleEndian(s[0x214..], 0x100000);
        BinaryPrimitives.WriteUInt32LittleEndian(s[0x22C..], 0x7FFF_FFFF);
        BinaryPrimitives.WriteUInt32LittleEndian(s[0x230..], 0x20_0000);
        s[0x234] = 1;
        BinaryPrimitives.WriteUInt16LittleEndian(s[0x236..], xloadflags);
        BinaryPrimitives.WriteUInt32LittleEndian(s[0x238..], 0x7FF);
        BinaryPrimitives.WriteUInt64LittleEndian(s[0x258..], 0x100_0000);
        BinaryPrimitives.WriteUInt32LittleEndian(s[0x260..], initSize);
        for (int i = 1024; i < b.Length; i++)
        {
            b[i] = (byte)i;
        }

        return b;
    }

    [Fact]
    public void Loads_PerTheProtocol()
    {
        byte[] initrd = [1, 2, 3, 4, 5];
        GuestImage image = BzImage.Load(Image(), new BzImageOptions(Memory, "console=ttyS0 nokaslr", initrd));

        Assert.Equal(GuestImageFormat.BzImage, image.Format);
        Assert.Equal(0x100_0200UL, image.Entry);
        LinuxBootState linux = Assert.IsType<LinuxBootState>(image.Linux);
        ImageSegment kernel = image.Segments.Single(s => s.Gpa == 0x100_0000);
        Assert.Equal(0x1000, kernel.Data.Length);
        Assert.Equal(unchecked((byte)1024), kernel.Data.Span[0]);

        byte[] zp = image.Segments.Single(s => s.Gpa == linux.ZeroPage).Data.ToArray();
        Assert.Equal(0x53726448U, BinaryPrimitives.ReadUInt32LittleEndian(zp.AsSpan(0x202)));     // header copied
        Assert.Equal(0xFF, zp[0x210]);                                                           // type_of_loader
        Assert.Equal(0x100_0000U, BinaryPrimitives.ReadUInt32LittleEndian(zp.AsSpan(0x214)));    // code32_start
        uint cmdPtr = BinaryPrimitives.ReadUInt32LittleEndian(zp.AsSpan(0x228));
        string cmdline = System.Text.Encoding.ASCII.GetString(image.Segments.Single(s => s.Gpa == cmdPtr).Data.Span);
        Assert.Equal("console=ttyS0 nokaslr\0", cmdline);

        uint ramdisk = BinaryPrimitives.ReadUInt32LittleEndian(zp.AsSpan(0x218));
        Assert.Equal(5U, BinaryPrimitives.ReadUInt32LittleEndian(zp.AsSpan(0x21C)));
        Assert.Equal(0U, ramdisk % 0x1000);
        Assert.True(ramdisk >= 0x100_0000 + 0x40_0000 && ramdisk + 5 <= Memory);
        Assert.Equal(initrd, image.Segments.Single(s => s.Gpa == ramdisk).Data.ToArray());

        // e820: RAM, the loader's structures reserved, RAM up to the ACPI tables (ACPI-typed), reserved to 1 MiB, RAM
        // to the end of memory.
        Assert.Equal(6, zp[0x1E8]);
        (ulong, ulong, uint) E(int n) => (BinaryPrimitives.ReadUInt64LittleEndian(zp.AsSpan(0x2D0 + (20 * n))),
            BinaryPrimitives.ReadUInt64LittleEndian(zp.AsSpan(0x2D8 + (20 * n))), BinaryPrimitives.ReadUInt32LittleEndian(zp.AsSpan(0x2E0 + (20 * n))));
        Assert.Equal((0UL, BzImage.LoaderArea, 1U), E(0));
        (ulong loaderEnd, ulong loaderLength, uint loaderType) = E(1);
        Assert.Equal((BzImage.LoaderArea, 2U), (loaderEnd, loaderType));
        Assert.Equal((BzImage.LoaderArea + loaderLength, AcpiTables.RsdpGpa - BzImage.LoaderArea - loaderLength, 1U), E(2));
        Assert.Equal((AcpiTables.RsdpGpa, AcpiTables.Size, 3U), E(3));
        Assert.Equal((AcpiTables.RsdpGpa + AcpiTables.Size, BzImage.LoaderAreaEnd - AcpiTables.RsdpGpa - AcpiTables.Size, 2U), E(4));
        Assert.Equal((BzImage.LoaderAreaEnd, Memory - BzImage.LoaderAreaEnd, 1U), E(5));
        Assert.Equal(AcpiTables.RsdpGpa, BinaryPrimitives.ReadUInt64LittleEndian(zp.AsSpan(0x070))); // acpi_rsdp_addr

        // GDT: __BOOT_CS 64-bit code, __BOOT_DS data.
        byte[] gdt = image.Segments.Single(s => s.Gpa == linux.GdtBase).Data.ToArray();
        Assert.Equal(0x00AF9B000000FFFFUL, BinaryPrimitives.ReadUInt64LittleEndian(gdt.AsSpan(LinuxBootState.BootCs)));
        Assert.Equal(0x00CF93000000FFFFUL, BinaryPrimitives.ReadUInt64LittleEndian(gdt.AsSpan(LinuxBootState.BootDs)));

        // Identity map: PML4[0] -> PDPT, PDPT[0] -> PD, PD[n] = n * 2 MiB, large, present, writable.
        byte[] t = image.Segments.Single(s => s.Gpa == linux.Cr3).Data.ToArray();
        Assert.Equal(linux.Cr3 + 0x1000 + 3, BinaryPrimitives.ReadUInt64LittleEndian(t));
        Assert.Equal(linux.Cr3 + 0x2000 + 3, BinaryPrimitives.ReadUInt64LittleEndian(t.AsSpan(0x1000)));
        Assert.Equal((5UL << 21) | 0x83, BinaryPrimitives.ReadUInt64LittleEndian(t.AsSpan(0x2000 + (5 * 8))));
    }

    [Fact]
    public void NotABzImage_IsRefused() =>
        Assert.Contains("not a bzImage", Assert.Throws<ImageFormatException>(() => BzImage.Load(new byte[4096], new BzImageOptions(Memory))).Message);

    [Fact]
    public void OldProtocol_IsRefused() =>
        Assert.Contains("boot protocol 2.11 is too old", Assert.Throws<ImageFormatException>(() => BzImage.Load(Image(version: 0x020B), new BzImageOptions(Memory))).Message);

    [Fact]
    public void No64BitEntry_IsRefused() =>
        Assert.Contains("no 64-bit entry", Assert.Throws<ImageFormatException>(() => BzImage.Load(Image(xloadflags: 0x2), new BzImageOptions(Memory))).Message);

    [Fact]
    public void TooLargeForMemory_IsRefused() =>
        Assert.Contains("too large for memory", Assert.Throws<ImageFormatException>(() => BzImage.Load(Image(initSize: 0x1000_0000), new BzImageOptions(Memory))).Message);

    [Fact]
    public void CommandLineLongerThanCmdlineSize_IsRefused() =>
        Assert.Contains("command line", Assert.Throws<ImageFormatException>(() => BzImage.Load(Image(), new BzImageOptions(Memory, new string('x', 0x800)))).Message);

    [Fact]
    public void MissingFile_NamesIt() =>
        Assert.Contains("/no/such/vmlinuz: kernel file not found", Assert.Throws<ImageFormatException>(() => BzImage.LoadFile("/no/such/vmlinuz", string.Empty, null, Memory)).Message);
}
