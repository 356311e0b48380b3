using System.Buffers.Binary;

namespace TdxSim.Machine.Tests.Cli;

/// <summary>
/// Writes the smallest static x86-64 ELF executable the loader accepts: the ELF64 header, one PT_LOAD program header,
/// and the code at file offset 0x1000 (System V gABI; field offsets of the ELF64 header and Elf64_Phdr).
/// </summary>
internal static class ElfImage
{
    private const int HeaderSize = 64;
    private const int ProgramHeaderSize = 56;
    private const int CodeOffset = 0x1000;

    /// <summary>An executable loading <paramref name="code"/> at <paramref name="address"/>, with <paramref name="bss"/> zeroed bytes after it.</summary>
    public static byte[] Build(byte[] code, ulong address, ulong bss)
    {
        byte[] file = new byte[CodeOffset + code.Length];
        Span<byte> f = file;
        "\u007fELF"u8.CopyTo(f);
        f[4] = 2;                                                        // ELFCLASS64
        f[5] = 1;                                                        // ELFDATA2LSB
        f[6] = 1;                                                        // EV_CURRENT
        BinaryPrimitives.WriteUInt16LittleEndian(f[16..], 2);            // e_type: ET_EXEC
        BinaryPrimitives.WriteUInt16LittleEndian(f[18..], 0x3E);         // e_machine: EM_X86_64
        BinaryPrimitives.WriteUInt32LittleEndian(f[20..], 1);            // e_version
        BinaryPrimitives.WriteUInt64LittleEndian(f[24..], address);      // e_entry
        BinaryPrimitives.WriteUInt64LittleEndian(f[32..], HeaderSize);   // e_phoff
        BinaryPrimitives.WriteUInt16LittleEndian(f[52..], HeaderSize);   // e_ehsize
        BinaryPrimitives.WriteUInt16LittleEndian(f[54..], ProgramHeaderSize); // e_phentsize
        BinaryPrimitives.WriteUInt16LittleEndian(f[56..], 1);            // e_phnum

        Span<byte> ph = f[HeaderSize..];
        BinaryPrimitives.WriteUInt32LittleEndian(ph, 1);                 // p_type: PT_LOAD
        BinaryPrimitives.WriteUInt32LittleEndian(ph[4..], 5);            // p_flags: R + X
        BinaryPrimitives.WriteUInt64LittleEndian(ph[8..], CodeOffset);   // p_offset
        BinaryPrimitives.WriteUInt64LittleEndian(ph[16..], address);     // p_vaddr
        BinaryPrimitives.WriteUInt64LittleEndian(ph[24..], address);     // p_paddr
        BinaryPrimitives.WriteUInt64LittleEndian(ph[32..], (ulong)code.Length);        // p_filesz
        BinaryPrimitives.WriteUInt64LittleEndian(ph[40..], (ulong)code.Length + bss);  // p_memsz
        BinaryPrimitives.WriteUInt64LittleEndian(ph[48..], 0x1000);      // p_align

        code.CopyTo(f[CodeOffset..]);
        return file;
    }
}
