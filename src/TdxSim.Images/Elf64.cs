using System.Buffers.Binary;

namespace TdxSim.Images;

/// <summary>
/// Reads an ELF64 x86-64 executable's PT_LOAD segments (System V gABI "ELF-64 Object File Format",
/// ELF header and program header table). Every field is validated before use, with overflow-safe
/// arithmetic, so a truncated or hostile file yields an <see cref="ImageFormatException"/>.
/// </summary>
internal static class Elf64
{
    public const int HeaderSize = 64;
    public const int ProgramHeaderSize = 56;

    private const byte ClassElf64 = 2;
    private const byte DataLittleEndian = 1;
    private const uint VersionCurrent = 1;
    private const ushort TypeExec = 2;
    private const ushort TypeDyn = 3;
    private const ushort MachineX8664 = 62;
    private const ushort ExtendedNumbering = 0xFFFF; // PN_XNUM
    private const uint PtLoad = 1;
    private const uint PtInterp = 3;
    private const uint PfExecute = 1;

    /// <summary>True when the bytes start with the ELF magic <c>7F 'E' 'L' 'F'</c>.</summary>
    public static bool HasMagic(ReadOnlySpan<byte> bytes) =>
        bytes.Length >= 4 && bytes[0] == 0x7F && bytes[1] == (byte)'E' && bytes[2] == (byte)'L' && bytes[3] == (byte)'F';

    /// <summary>Parses the file's loadable segments and entry point (no placement checks).</summary>
    public static (List<LoadedSegment> Segments, ulong Entry) Read(ReadOnlyMemory<byte> file)
    {
        ReadOnlySpan<byte> f = file.Span;
        ReadHeader(f, out ulong entry, out ulong phoff, out int phnum);

        var segments = new List<LoadedSegment>(phnum);
        bool anyLoad = false;
        for (int i = 0; i < phnum; i++)
        {
            ReadOnlySpan<byte> ph = f.Slice(checked((int)phoff + (i * ProgramHeaderSize)), ProgramHeaderSize);
            uint type = U32(ph, 0);
            if (type == PtInterp)
            {
                throw Error($"program header {i} is PT_INTERP: the image is dynamically linked; link it static (-static -nostdlib)");
            }

            if (type != PtLoad)
            {
                continue;
            }

            anyLoad = true;
            LoadedSegment? segment = ReadLoad(file, ph, i);
            if (segment is { } s)
            {
                segments.Add(s);
            }
        }

        if (!anyLoad)
        {
            throw Error("no PT_LOAD program header: nothing to load");
        }

        if (segments.Count == 0)
        {
            throw Error("every PT_LOAD segment is empty (p_memsz 0): nothing to load");
        }

        return (segments, entry);
    }

    private static void ReadHeader(ReadOnlySpan<byte> f, out ulong entry, out ulong phoff, out int phnum)
    {
        if (f.Length < 16)
        {
            throw Error($"file is {f.Length} bytes, too short for the 16-byte e_ident");
        }

        if (f[4] != ClassElf64)
        {
            string name = f[4] == 1 ? " (ELF32)" : string.Empty;
            throw Error($"class {f[4]}{name} is not ELF64 (2)");
        }

        if (f[5] != DataLittleEndian)
        {
            string name = f[5] == 2 ? " (big-endian)" : string.Empty;
            throw Error($"data encoding {f[5]}{name} is not little-endian (1)");
        }

        if (f[6] != VersionCurrent)
        {
            throw Error($"e_ident version {f[6]} is not 1 (EV_CURRENT)");
        }

        if (f.Length < HeaderSize)
        {
            throw Error($"file is {f.Length} bytes, shorter than the 64-byte ELF64 header");
        }

        ushort type = U16(f, 16);
        if (type == TypeDyn)
        {
            throw Error("type DYN (shared object or position-independent executable) is not supported; link with -static -no-pie");
        }

        if (type != TypeExec)
        {
            throw Error($"type {type} ({TypeName(type)}) is not an executable (EXEC, 2)");
        }

        ushort machine = U16(f, 18);
        if (machine != MachineX8664)
        {
            throw Error($"machine 0x{machine:x} ({MachineName(machine)}) is not x86-64");
        }

        uint version = U32(f, 20);
        if (version != VersionCurrent)
        {
            throw Error($"e_version {version} is not 1 (EV_CURRENT)");
        }

        entry = U64(f, 24);
        phoff = U64(f, 32);
        ushort ehsize = U16(f, 52);
        ushort phentsize = U16(f, 54);
        ushort count = U16(f, 56);
        if (ehsize != HeaderSize)
        {
            throw Error($"e_ehsize {ehsize} is not the ELF64 header size 64");
        }

        if (count == ExtendedNumbering)
        {
            throw Error("extended program header numbering (e_phnum 0xffff, PN_XNUM) is not supported");
        }

        if (count == 0)
        {
            throw Error("no program headers (e_phnum 0): nothing to load");
        }

        if (phentsize != ProgramHeaderSize)
        {
            throw Error($"e_phentsize {phentsize} is not the ELF64 program header size 56");
        }

        ulong tableSize = (ulong)count * ProgramHeaderSize;
        ulong length = (ulong)f.Length;
        if (phoff > length || tableSize > length - phoff)
        {
            throw Error(
                $"program header table extends past end of file (offset 0x{phoff:x} + {count} x 56 > 0x{length:x})");
        }

        phnum = count;
    }

    private static LoadedSegment? ReadLoad(ReadOnlyMemory<byte> file, ReadOnlySpan<byte> ph, int index)
    {
        uint flags = U32(ph, 4);
        ulong offset = U64(ph, 8);
        ulong vaddr = U64(ph, 16);
        ulong paddr = U64(ph, 24);
        ulong filesz = U64(ph, 32);
        ulong memsz = U64(ph, 40);
        ulong align = U64(ph, 48);

        if (filesz > memsz)
        {
            throw Error($"segment {index} has p_filesz 0x{filesz:x} > p_memsz 0x{memsz:x}");
        }

        ulong length = (ulong)file.Length;
        if (offset > length || filesz > length - offset)
        {
            throw Error(
                $"segment {index} extends past end of file (offset 0x{offset:x} + 0x{filesz:x} > 0x{length:x})");
        }

        if (memsz == 0)
        {
            return null;
        }

        // Paging is not emulated (contract section 3): code runs at its link address, which must
        // therefore be where it is loaded.
        if (vaddr != paddr)
        {
            throw Error(
                $"segment {index} has p_vaddr 0x{vaddr:x} != p_paddr 0x{paddr:x}; paging is not emulated, so segments must be linked at their load address");
        }

        if (align > 1)
        {
            if ((align & (align - 1)) != 0)
            {
                throw Error($"segment {index} has p_align 0x{align:x}, not a power of two");
            }

            // gABI: loadable segments have p_vaddr congruent to p_offset modulo p_align.
            if ((vaddr & (align - 1)) != (offset & (align - 1)))
            {
                throw Error(
                    $"segment {index} has p_vaddr 0x{vaddr:x} and p_offset 0x{offset:x} not congruent modulo p_align 0x{align:x}");
            }
        }

        ReadOnlyMemory<byte> data = file.Slice((int)offset, (int)filesz);
        return new LoadedSegment(index, new ImageSegment(vaddr, data, memsz), (flags & PfExecute) != 0);
    }

    private static ImageFormatException Error(string message) => new("ELF: " + message);

    private static ushort U16(ReadOnlySpan<byte> s, int at) => BinaryPrimitives.ReadUInt16LittleEndian(s[at..]);

    private static uint U32(ReadOnlySpan<byte> s, int at) => BinaryPrimitives.ReadUInt32LittleEndian(s[at..]);

    private static ulong U64(ReadOnlySpan<byte> s, int at) => BinaryPrimitives.ReadUInt64LittleEndian(s[at..]);

    private static string TypeName(ushort type) => type switch
    {
        0 => "NONE",
        1 => "REL, an object file",
        4 => "CORE, a core dump",
        _ => "unknown",
    };

    private static string MachineName(ushort machine) => machine switch
    {
        0 => "none",
        2 => "SPARC",
        3 => "i386",
        8 => "MIPS",
        20 => "PowerPC",
        21 => "PowerPC64",
        22 => "S/390",
        40 => "ARM",
        43 => "SPARC V9",
        50 => "IA-64",
        183 => "AArch64",
        243 => "RISC-V",
        258 => "LoongArch",
        _ => "unknown",
    };
}
