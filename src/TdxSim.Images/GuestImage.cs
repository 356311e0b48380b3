namespace TdxSim.Images;

/// <summary>How an image was recognised.</summary>
public enum GuestImageFormat
{
    /// <summary>A flat binary loaded at a given address.</summary>
    Flat,

    /// <summary>An ELF64 x86-64 executable (PT_LOAD segments).</summary>
    Elf64,

    /// <summary>A Linux bzImage loaded by the x86 boot protocol (<see cref="BzImage"/>).</summary>
    BzImage,
}

/// <summary>
/// One contiguous piece of an image: <see cref="Data"/> goes to <see cref="Gpa"/>, followed by zeros up
/// to <see cref="MemorySize"/> bytes (an ELF segment's p_memsz, e.g. .bss).
/// </summary>
public sealed record ImageSegment(ulong Gpa, ReadOnlyMemory<byte> Data, ulong MemorySize)
{
    /// <summary>One past the last byte the segment occupies in guest memory.</summary>
    public ulong End => Gpa + MemorySize;
}

/// <summary>A parsed guest image, ready to be copied into guest-private memory.</summary>
public sealed record GuestImage(GuestImageFormat Format, ulong Entry, IReadOnlyList<ImageSegment> Segments)
{
    /// <summary>For a Linux kernel: the boot-protocol entry state (zero page, CR3, GDT); null for purpose-built guests.</summary>
    public LinuxBootState? Linux { get; init; }
}
