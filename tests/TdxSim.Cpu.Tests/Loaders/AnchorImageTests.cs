using TdxSim.Images;

namespace TdxSim.Cpu.Tests.Loaders;

/// <summary>The shared crc32 anchor guest (shared/anchors, built with gcc -static -Ttext=0x100000).</summary>
public sealed class AnchorImageTests
{
    [Fact]
    public void LoadFile_Crc32Elf_HasItsLinkedSegmentsAndEntry()
    {
        GuestImage image = ImageLoader.LoadFile(AnchorFiles.Path("crc32-guest.elf"));

        Assert.Equal(GuestImageFormat.Elf64, image.Format);
        Assert.Equal(0x10_0000UL, image.Entry);

        // readelf -l: headers (R) at 0xff000, .text (R E) at 0x100000, .rodata (R) at 0x101000, .bss (RW) at 0x102000.
        Assert.Equal([0xF_F000UL, 0x10_0000UL, 0x10_1000UL, 0x10_2000UL], image.Segments.Select(s => s.Gpa));
        ImageSegment bss = image.Segments[3];
        Assert.Equal(0, bss.Data.Length);
        Assert.True(bss.MemorySize > 0);
        Assert.All(image.Segments, s => Assert.True(s.End <= ImageLoadOptions.DefaultMemoryBytes));
        Assert.True(ImageLoader.IsElf(image.Segments[0].Data.Span), "the first segment maps the ELF header itself");
    }

    [Fact]
    public void LoadFile_Crc32Bin_MatchesTheElfLoadedBytes()
    {
        GuestImage elf = ImageLoader.LoadFile(AnchorFiles.Path("crc32-guest.elf"));
        GuestImage bin = ImageLoader.LoadFile(AnchorFiles.Path("crc32-guest.bin"));

        Assert.Equal(GuestImageFormat.Flat, bin.Format);
        Assert.Equal(elf.Entry, bin.Entry);
        ImageSegment flat = Assert.Single(bin.Segments);
        Assert.Equal(ImageLoadOptions.DefaultLoadAddress, flat.Gpa);

        // objcopy -O binary dumps the allocated sections with file bytes from the lowest section address
        // (.text at 0x100000) up, gaps zero-filled: every ELF byte at or above the load address must be
        // there, and everything else in the flat file must be zero padding.
        byte[] expected = new byte[flat.Data.Length];
        foreach (ImageSegment s in elf.Segments.Where(s => s.Gpa >= flat.Gpa && s.Data.Length > 0))
        {
            s.Data.Span.CopyTo(expected.AsSpan(checked((int)(s.Gpa - flat.Gpa))));
        }

        Assert.Equal(expected, flat.Data.ToArray());
        ImageSegment lastWithBytes = elf.Segments.Last(s => s.Data.Length > 0);
        Assert.Equal(lastWithBytes.Gpa + (ulong)lastWithBytes.Data.Length, flat.Gpa + (ulong)flat.Data.Length);
    }
}
