using System.Buffers.Binary;

namespace TdxSim.Cpu.Tests.Loaders;

/// <summary>
/// Writes ELF64 files in memory for loader tests. Every header field is settable so a test can
/// corrupt exactly one thing; unset fields default to a valid static x86-64 executable.
/// </summary>
internal sealed class ElfWriter
{
    public byte Class { get; set; } = 2;

    public byte DataEncoding { get; set; } = 1;

    public byte IdentVersion { get; set; } = 1;

    public ushort Type { get; set; } = 2;

    public ushort Machine { get; set; } = 62;

    public uint Version { get; set; } = 1;

    public ulong Entry { get; set; }

    /// <summary>e_phoff; by default right after the ELF header.</summary>
    public ulong? ProgramHeaderOffset { get; set; }

    public ushort HeaderSize { get; set; } = 64;

    public ushort ProgramHeaderEntrySize { get; set; } = 56;

    /// <summary>e_phnum; by default the number of <see cref="Segments"/>.</summary>
    public ushort? ProgramHeaderCount { get; set; }

    public List<ElfSegment> Segments { get; } = [];

    /// <summary>Adds a PT_LOAD segment whose file bytes are <paramref name="data"/>.</summary>
    public ElfSegment AddLoad(ulong vaddr, byte[] data, ElfFlags flags, ulong? memSize = null)
    {
        var s = new ElfSegment { VirtualAddress = vaddr, Data = data, Flags = flags, MemorySize = memSize };
        Segments.Add(s);
        return s;
    }

    public byte[] Build()
    {
        const int ehdr = 64;
        const int phdr = 56;
        int tableEnd = ehdr + (Segments.Count * phdr);

        // Lay the segment bytes out after the table, each at an offset congruent to its address
        // modulo 4 KiB as the gABI requires of loadable segments.
        var offsets = new long[Segments.Count];
        long cursor = tableEnd;
        for (int i = 0; i < Segments.Count; i++)
        {
            ElfSegment s = Segments[i];
            long pageOffset = (long)(s.VirtualAddress & 0xFFF);
            long aligned = ((cursor + 0xFFF) & ~0xFFFL) + pageOffset;
            offsets[i] = aligned;
            cursor = aligned + s.Data.Length;
        }

        var file = new byte[Math.Max(cursor, tableEnd)];
        Span<byte> f = file;
        f[0] = 0x7F;
        f[1] = (byte)'E';
        f[2] = (byte)'L';
        f[3] = (byte)'F';
        f[4] = Class;
        f[5] = DataEncoding;
        f[6] = IdentVersion;
        BinaryPrimitives.WriteUInt16LittleEndian(f[16..], Type);
        BinaryPrimitives.WriteUInt16LittleEndian(f[18..], Machine);
        BinaryPrimitives.WriteUInt32LittleEndian(f[20..], Version);
        BinaryPrimitives.WriteUInt64LittleEndian(f[24..], Entry);
        BinaryPrimitives.WriteUInt64LittleEndian(f[32..], ProgramHeaderOffset ?? ehdr);
        BinaryPrimitives.WriteUInt16LittleEndian(f[52..], HeaderSize);
        BinaryPrimitives.WriteUInt16LittleEndian(f[54..], ProgramHeaderEntrySize);
        BinaryPrimitives.WriteUInt16LittleEndian(f[56..], ProgramHeaderCount ?? (ushort)Segments.Count);

        for (int i = 0; i < Segments.Count; i++)
        {
            ElfSegment s = Segments[i];
            Span<byte> p = f.Slice(ehdr + (i * phdr), phdr);
            ulong fileSize = s.FileSize ?? (ulong)s.Data.Length;
            BinaryPrimitives.WriteUInt32LittleEndian(p, s.Type);
            BinaryPrimitives.WriteUInt32LittleEndian(p[4..], (uint)s.Flags);
            BinaryPrimitives.WriteUInt64LittleEndian(p[8..], s.Offset ?? (ulong)offsets[i]);
            BinaryPrimitives.WriteUInt64LittleEndian(p[16..], s.VirtualAddress);
            BinaryPrimitives.WriteUInt64LittleEndian(p[24..], s.PhysicalAddress ?? s.VirtualAddress);
            BinaryPrimitives.WriteUInt64LittleEndian(p[32..], fileSize);
            BinaryPrimitives.WriteUInt64LittleEndian(p[40..], s.MemorySize ?? fileSize);
            BinaryPrimitives.WriteUInt64LittleEndian(p[48..], s.Align);
            s.Data.CopyTo(f[(int)offsets[i]..]);
        }

        return file;
    }
}

[Flags]
internal enum ElfFlags : uint
{
    None = 0,
    X = 1,
    W = 2,
    R = 4,
}

/// <summary>One program header and its file bytes; null fields take the consistent default.</summary>
internal sealed class ElfSegment
{
    public uint Type { get; set; } = 1;

    public ElfFlags Flags { get; set; } = ElfFlags.R;

    public ulong VirtualAddress { get; set; }

    public ulong? PhysicalAddress { get; set; }

    public ulong? Offset { get; set; }

    public ulong? FileSize { get; set; }

    public ulong? MemorySize { get; set; }

    public ulong Align { get; set; } = 0x1000;

    public byte[] Data { get; set; } = [];
}
