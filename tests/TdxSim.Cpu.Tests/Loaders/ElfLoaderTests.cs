using Iced.Intel;
using TdxSim.Images;
using static Iced.Intel.AssemblerRegisters;

namespace TdxSim.Cpu.Tests.Loaders;

public sealed class ElfLoaderTests
{
    private static readonly GuestProgram Text = GuestProgram.Assemble(0x10_0000, b =>
    {
        Assembler a = b.Asm;
        a.nop();
        b.Define("start");
        a.mov(dx, 0x3F8);
        a.mov(al, (byte)'A');
        a.@out(dx, al);
        a.hlt();
    });

    private static readonly byte[] Rodata = "crc32=\0"u8.ToArray();

    /// <summary>A valid executable: text (R X), rodata (R), bss (RW, no file bytes).</summary>
    private static ElfWriter ValidElf()
    {
        var w = new ElfWriter { Entry = Text["start"] };
        w.AddLoad(0x10_0000, Text.Code, ElfFlags.R | ElfFlags.X);
        w.AddLoad(0x10_1000, Rodata, ElfFlags.R);
        w.AddLoad(0x10_2000, [], ElfFlags.R | ElfFlags.W, memSize: 0x2000);
        return w;
    }

    private static string Fails(ElfWriter w, ImageLoadOptions? options = null) => Fails(w.Build(), options);

    private static string Fails(byte[] bytes, ImageLoadOptions? options = null) =>
        Assert.Throws<ImageFormatException>(() => ImageLoader.Load(bytes, options)).Message;

    [Fact]
    public void Load_ValidExecutable_ReturnsSegmentsAndEntry()
    {
        GuestImage image = ImageLoader.Load(ValidElf().Build());

        Assert.Equal(GuestImageFormat.Elf64, image.Format);
        Assert.Equal(0x10_0001UL, image.Entry);
        Assert.Equal(3, image.Segments.Count);
        Assert.Equal(0x10_0000UL, image.Segments[0].Gpa);
        Assert.Equal(Text.Code, image.Segments[0].Data.ToArray());
        Assert.Equal((ulong)Text.Code.Length, image.Segments[0].MemorySize);
        Assert.Equal(0x10_1000UL, image.Segments[1].Gpa);
        Assert.Equal(Rodata, image.Segments[1].Data.ToArray());
        Assert.Equal(0x10_2000UL, image.Segments[2].Gpa);
        Assert.Equal(0, image.Segments[2].Data.Length);
        Assert.Equal(0x2000UL, image.Segments[2].MemorySize);
        Assert.Equal(0x10_4000UL, image.Segments[2].End);
    }

    [Fact]
    public void Load_SegmentsCopyTheInput_LaterChangesToTheBufferDoNotLeak()
    {
        byte[] bytes = ValidElf().Build();
        GuestImage image = ImageLoader.Load(bytes);
        Array.Clear(bytes);

        Assert.Equal(Text.Code, image.Segments[0].Data.ToArray());
    }

    [Fact]
    public void Load_NonLoadHeadersAndEmptyLoads_AreIgnored()
    {
        ElfWriter w = ValidElf();
        w.Segments.Add(new ElfSegment { Type = 4 /* PT_NOTE */, VirtualAddress = 0x7777_0000, Data = [1, 2, 3] });
        w.Segments.Add(new ElfSegment { Type = 0x6474E551 /* PT_GNU_STACK */, Flags = ElfFlags.R | ElfFlags.W, Align = 16 });
        w.AddLoad(0x3000_0000, [], ElfFlags.R);

        GuestImage image = ImageLoader.Load(w.Build());

        Assert.Equal([0x10_0000UL, 0x10_1000UL, 0x10_2000UL], image.Segments.Select(s => s.Gpa));
    }

    [Fact]
    public void Load_EntryOverride_IsUsedWhenInsideExecutableBytes()
    {
        GuestImage image = ImageLoader.Load(ValidElf().Build(), new ImageLoadOptions { Entry = 0x10_0000 });

        Assert.Equal(0x10_0000UL, image.Entry);
    }

    [Fact]
    public void Load_LoadAddressOption_IsIgnoredForElf()
    {
        GuestImage image = ImageLoader.Load(ValidElf().Build(), new ImageLoadOptions { LoadAddress = 0x20_0000 });

        Assert.Equal(0x10_0000UL, image.Segments[0].Gpa);
    }

    [Fact]
    public void Load_ShortIdent_IsRejected()
    {
        byte[] bytes = ValidElf().Build()[..10];

        Assert.Equal("ELF: file is 10 bytes, too short for the 16-byte e_ident", Fails(bytes));
    }

    [Fact]
    public void Load_TruncatedHeader_IsRejected()
    {
        byte[] bytes = ValidElf().Build()[..40];

        Assert.Equal("ELF: file is 40 bytes, shorter than the 64-byte ELF64 header", Fails(bytes));
    }

    [Fact]
    public void Load_Elf32_IsRejected()
    {
        ElfWriter w = ValidElf();
        w.Class = 1;

        Assert.Equal("ELF: class 1 (ELF32) is not ELF64 (2)", Fails(w));
    }

    [Fact]
    public void Load_BigEndian_IsRejected()
    {
        ElfWriter w = ValidElf();
        w.DataEncoding = 2;

        Assert.Equal("ELF: data encoding 2 (big-endian) is not little-endian (1)", Fails(w));
    }

    [Fact]
    public void Load_BadIdentVersion_IsRejected()
    {
        ElfWriter w = ValidElf();
        w.IdentVersion = 0;

        Assert.Equal("ELF: e_ident version 0 is not 1 (EV_CURRENT)", Fails(w));
    }

    [Fact]
    public void Load_BadVersion_IsRejected()
    {
        ElfWriter w = ValidElf();
        w.Version = 2;

        Assert.Equal("ELF: e_version 2 is not 1 (EV_CURRENT)", Fails(w));
    }

    [Fact]
    public void Load_PositionIndependentExecutable_IsRejected()
    {
        ElfWriter w = ValidElf();
        w.Type = 3;

        Assert.Equal(
            "ELF: type DYN (shared object or position-independent executable) is not supported; link with -static -no-pie",
            Fails(w));
    }

    [Theory]
    [InlineData(1, "ELF: type 1 (REL, an object file) is not an executable (EXEC, 2)")]
    [InlineData(4, "ELF: type 4 (CORE, a core dump) is not an executable (EXEC, 2)")]
    [InlineData(0, "ELF: type 0 (NONE) is not an executable (EXEC, 2)")]
    public void Load_NonExecutableType_IsRejected(ushort type, string message)
    {
        ElfWriter w = ValidElf();
        w.Type = type;

        Assert.Equal(message, Fails(w));
    }

    [Theory]
    [InlineData(183, "ELF: machine 0xb7 (AArch64) is not x86-64")]
    [InlineData(3, "ELF: machine 0x3 (i386) is not x86-64")]
    [InlineData(243, "ELF: machine 0xf3 (RISC-V) is not x86-64")]
    [InlineData(0x1234, "ELF: machine 0x1234 (unknown) is not x86-64")]
    public void Load_ForeignMachine_IsRejected(ushort machine, string message)
    {
        ElfWriter w = ValidElf();
        w.Machine = machine;

        Assert.Equal(message, Fails(w));
    }

    [Fact]
    public void Load_WrongHeaderSize_IsRejected()
    {
        ElfWriter w = ValidElf();
        w.HeaderSize = 52;

        Assert.Equal("ELF: e_ehsize 52 is not the ELF64 header size 64", Fails(w));
    }

    [Fact]
    public void Load_WrongProgramHeaderEntrySize_IsRejected()
    {
        ElfWriter w = ValidElf();
        w.ProgramHeaderEntrySize = 32;

        Assert.Equal("ELF: e_phentsize 32 is not the ELF64 program header size 56", Fails(w));
    }

    [Fact]
    public void Load_NoProgramHeaders_IsRejected()
    {
        ElfWriter w = ValidElf();
        w.ProgramHeaderCount = 0;

        Assert.Equal("ELF: no program headers (e_phnum 0): nothing to load", Fails(w));
    }

    [Fact]
    public void Load_ExtendedProgramHeaderNumbering_IsRejected()
    {
        ElfWriter w = ValidElf();
        w.ProgramHeaderCount = 0xFFFF;

        Assert.Equal("ELF: extended program header numbering (e_phnum 0xffff, PN_XNUM) is not supported", Fails(w));
    }

    [Fact]
    public void Load_ProgramHeaderTablePastEndOfFile_IsRejected()
    {
        ElfWriter w = ValidElf();
        byte[] bytes = w.Build()[..(64 + 56 + 20)];

        Assert.Equal("ELF: program header table extends past end of file (offset 0x40 + 3 x 56 > 0x8c)", Fails(bytes));
    }

    [Fact]
    public void Load_ProgramHeaderOffsetNearTwoToThe64_DoesNotWrap()
    {
        ElfWriter w = ValidElf();
        w.ProgramHeaderOffset = ulong.MaxValue - 8;

        Assert.StartsWith("ELF: program header table extends past end of file (offset 0xfffffffffffffff7 + 3 x 56", Fails(w));
    }

    [Fact]
    public void Load_FileSizeAboveMemorySize_IsRejected()
    {
        ElfWriter w = ValidElf();
        w.Segments[1].MemorySize = 2;

        Assert.Equal("ELF: segment 1 has p_filesz 0x7 > p_memsz 0x2", Fails(w));
    }

    [Fact]
    public void Load_SegmentPastEndOfFile_IsRejected()
    {
        ElfWriter w = ValidElf();
        w.Segments[1].FileSize = 0x1001;
        w.Segments[1].MemorySize = 0x1001;
        byte[] bytes = w.Build();

        Assert.Equal(0x3000, bytes.Length);
        Assert.Equal("ELF: segment 1 extends past end of file (offset 0x2000 + 0x1001 > 0x3000)", Fails(bytes));
    }

    [Fact]
    public void Load_SegmentOffsetNearTwoToThe64_DoesNotWrap()
    {
        ElfWriter w = ValidElf();
        w.Segments[0].Offset = ulong.MaxValue - 4;
        w.Segments[0].Align = 0;

        Assert.StartsWith("ELF: segment 0 extends past end of file (offset 0xfffffffffffffffb + 0x", Fails(w));
    }

    [Fact]
    public void Load_VirtualAndPhysicalAddressesDiffer_IsRejected()
    {
        ElfWriter w = ValidElf();
        w.Segments[0].VirtualAddress = 0xFFFF_FFFF_8100_0000;
        w.Segments[0].PhysicalAddress = 0x10_0000;

        Assert.Equal(
            "ELF: segment 0 has p_vaddr 0xffffffff81000000 != p_paddr 0x100000; paging is not emulated, so segments must be linked at their load address",
            Fails(w));
    }

    [Fact]
    public void Load_AlignmentNotPowerOfTwo_IsRejected()
    {
        ElfWriter w = ValidElf();
        w.Segments[1].Align = 0x3000;

        Assert.Equal("ELF: segment 1 has p_align 0x3000, not a power of two", Fails(w));
    }

    [Fact]
    public void Load_AddressAndOffsetNotCongruent_IsRejected()
    {
        ElfWriter w = ValidElf();
        w.Segments[1].Offset = 0x2010;

        Assert.Equal("ELF: segment 1 has p_vaddr 0x101000 and p_offset 0x2010 not congruent modulo p_align 0x1000", Fails(w));
    }

    [Fact]
    public void Load_Interpreter_IsRejected()
    {
        ElfWriter w = ValidElf();
        w.Segments.Insert(0, new ElfSegment { Type = 3, Data = "/lib64/ld-linux-x86-64.so.2\0"u8.ToArray(), Align = 1 });

        Assert.Equal(
            "ELF: program header 0 is PT_INTERP: the image is dynamically linked; link it static (-static -nostdlib)",
            Fails(w));
    }

    [Fact]
    public void Load_NoLoadSegment_IsRejected()
    {
        var w = new ElfWriter { Entry = 0x10_0000 };
        w.Segments.Add(new ElfSegment { Type = 4, Data = [1, 2, 3, 4] });

        Assert.Equal("ELF: no PT_LOAD program header: nothing to load", Fails(w));
    }

    [Fact]
    public void Load_OnlyEmptyLoadSegments_IsRejected()
    {
        var w = new ElfWriter { Entry = 0x10_0000 };
        w.AddLoad(0x10_0000, [], ElfFlags.R | ElfFlags.X);

        Assert.Equal("ELF: every PT_LOAD segment is empty (p_memsz 0): nothing to load", Fails(w));
    }

    [Fact]
    public void Load_SegmentWithSharedBit_IsRejected()
    {
        ElfWriter w = ValidElf();
        w.Segments[1].VirtualAddress = (1UL << 47) | 0x10_1000;

        Assert.Equal("segment 1 at 0x800000101000 has the shared bit (bit 47) set: images load into private memory", Fails(w));
    }

    [Fact]
    public void Load_SegmentPastPrivateMemory_IsRejected()
    {
        ElfWriter w = ValidElf();
        w.Segments[2].VirtualAddress = 0x3FF_F000;
        w.Segments[2].MemorySize = 0x1010;

        Assert.Equal("image does not fit in private memory: segment 2 at 0x3fff000 ends at 0x4000010 > 0x4000000", Fails(w));
    }

    [Fact]
    public void Load_SegmentAboveGpaWidth_IsRejectedAsNotFitting()
    {
        ElfWriter w = ValidElf();
        w.Segments[1].VirtualAddress = 0x1_0000_0000_1000;

        Assert.StartsWith("image does not fit in private memory: segment 1 at 0x1000000001000", Fails(w));
    }

    [Fact]
    public void Load_SegmentSizeWrappingAround_IsRejected()
    {
        ElfWriter w = ValidElf();
        w.Segments[2].MemorySize = ulong.MaxValue - 0x100;

        Assert.Equal("segment 2 at 0x102000 with size 0xfffffffffffffeff wraps around the address space", Fails(w));
    }

    [Fact]
    public void Load_SmallerMemory_IsHonoured()
    {
        var options = new ImageLoadOptions { MemoryBytes = 0x10_2000 };

        Assert.Equal("image does not fit in private memory: segment 2 at 0x102000 ends at 0x104000 > 0x102000", Fails(ValidElf(), options));
    }

    [Fact]
    public void Load_SegmentOnTheVcpuStacks_IsRejected()
    {
        ElfWriter w = ValidElf();
        w.Segments[2].VirtualAddress = 0x3FD_0000;
        w.Segments[2].MemorySize = 0x1_0001;
        var options = new ImageLoadOptions { VcpuStacks = 4 };

        Assert.Equal(
            "image overlaps the vCPU stacks: segment 2 at 0x3fd0000 ends at 0x3fe0001 > 0x3fc0000 (4 vCPUs x 64 KiB at the top of private memory)",
            Fails(w, options));
    }

    [Fact]
    public void Load_SegmentJustBelowTheVcpuStacks_IsAccepted()
    {
        ElfWriter w = ValidElf();
        w.Segments[2].VirtualAddress = 0x3FB_0000;
        w.Segments[2].MemorySize = 0x1_0000;

        GuestImage image = ImageLoader.Load(w.Build(), new ImageLoadOptions { VcpuStacks = 4 });

        Assert.Equal(0x3FC_0000UL, image.Segments[2].End);
    }

    [Fact]
    public void Load_OverlappingSegments_AreRejected()
    {
        ElfWriter w = ValidElf();
        w.Segments[2].VirtualAddress = 0x10_0000;
        w.Segments[2].MemorySize = 0x1001;

        Assert.Equal("segments 0 and 2 overlap at 0x100000", Fails(w));
    }

    [Fact]
    public void Load_SegmentsTouchingEndToStart_AreAccepted()
    {
        ElfWriter w = ValidElf();
        w.Segments[0].MemorySize = 0x1000;

        GuestImage image = ImageLoader.Load(w.Build());

        Assert.Equal(image.Segments[1].Gpa, image.Segments[0].End);
    }

    [Fact]
    public void Load_EntryOutsideEverySegment_IsRejected()
    {
        ElfWriter w = ValidElf();
        w.Entry = 0x20_0000;

        Assert.Equal(
            $"entry point 0x200000 is outside the loaded image ([0x100000, 0x{Text.End:x}), [0x101000, 0x101007), [0x102000, 0x104000))",
            Fails(w));
    }

    [Fact]
    public void Load_EntryInNonExecutableSegment_IsRejected()
    {
        ElfWriter w = ValidElf();
        w.Entry = 0x10_1000;

        Assert.Equal("entry point 0x101000 is in segment 1, which is not executable", Fails(w));
    }

    [Fact]
    public void Load_EntryInZeroFill_IsRejected()
    {
        ElfWriter w = ValidElf();
        w.Segments[0].MemorySize = 0x800;
        w.Entry = 0x10_0100;

        Assert.Equal(
            $"entry point 0x100100 is in the zero-filled part of segment 0 (file bytes end at 0x{Text.End:x})",
            Fails(w));
    }

    [Fact]
    public void Load_EntryOverrideOutsideImage_IsRejectedAndNamedAsOverride()
    {
        var options = new ImageLoadOptions { Entry = 0x10_1000 };

        Assert.Equal("entry point 0x101000 (overridden) is in segment 1, which is not executable", Fails(ValidElf(), options));
    }

    [Fact]
    public void Load_InconsistentOptions_ThrowArgumentOutOfRange()
    {
        byte[] bytes = ValidElf().Build();

        Assert.Throws<ArgumentOutOfRangeException>(() => ImageLoader.Load(bytes, new ImageLoadOptions { MemoryBytes = 0 }));
        Assert.Throws<ArgumentOutOfRangeException>(() => ImageLoader.Load(bytes, new ImageLoadOptions { MemoryBytes = 0x2_0000, VcpuStacks = 3 }));
        Assert.Throws<ArgumentOutOfRangeException>(() => ImageLoader.Load(bytes, new ImageLoadOptions { MemoryBytes = 1UL << 48 }));
    }
}
