using System.Buffers.Binary;
using System.Text;

namespace TdxSim.Images;

/// <summary>
/// The ACPI tables a TD's firmware (TDVF) hands a Linux guest, as few as Linux needs to find its processors (ACPI 6.5):
/// an RSDP (revision 2) pointing to an XSDT, which lists one MADT. The MADT has the local APIC address, no
/// PC-AT-compatible 8259 pair (a TD has none), one Processor Local x2APIC structure per vCPU (x2APIC ID = vCPU index,
/// enabled), and the Multiprocessor Wakeup structure (type 0x10) with the mailbox address, by which a TDX guest
/// starts its application processors; the firmware half of the mailbox holds the code the APs wait in
/// (<see cref="ApWaitGpa"/>). No FADT/DSDT: Linux then runs without the ACPI interpreter.
/// </summary>
public static class AcpiTables
{
    /// <summary>Where the loader puts the tables: 16-byte aligned in the reserved loader area below 1 MiB, where
    /// Linux also scans for the RSDP.</summary>
    public const ulong RsdpGpa = 0xE0000;

    private const ulong XsdtGpa = RsdpGpa + 0x40;
    private const ulong MadtGpa = RsdpGpa + 0x100;

    /// <summary>The 4 KiB multiprocessor wakeup mailbox (ACPI 6.4 5.2.12.19).</summary>
    public const ulong MailboxGpa = RsdpGpa + 0x1000;

    /// <summary>Bytes the tables occupy from <see cref="RsdpGpa"/> (mailbox included).</summary>
    public const ulong Size = 0x2000;

    /// <summary>Mailbox fields (ACPI 6.4 5.2.12.19): Command (u16; 0 noop, 1 wakeup), ApicId (u32), WakeupVector (u64).</summary>
    public const ulong MailboxCommand = 0, MailboxApicId = 4, MailboxWakeupVector = 8;

    /// <summary>
    /// Where an application processor waits for its wakeup, as TDVF's APs do: firmware code in the mailbox's
    /// firmware-reserved second half (offset 0x800). Entered in 64-bit mode with the loader's identity paging and
    /// RBX = the processor's x2APIC ID, it spins (PAUSE) until Command = 1 with ApicId = RBX, reads WakeupVector,
    /// writes Command = 0 (the acknowledgement Linux's <c>acpi_wakeup_cpu()</c> waits for) and jumps to the vector,
    /// still in 64-bit mode with identity paging (where Linux's <c>trampoline_start64</c> expects it).
    /// </summary>
    public const ulong ApWaitGpa = MailboxGpa + 0x800;

    /// <summary>The code at <see cref="ApWaitGpa"/>.</summary>
    public static ReadOnlySpan<byte> ApWaitCode =>
    [
        0xBF, unchecked((byte)MailboxGpa), unchecked((byte)(MailboxGpa >> 8)), unchecked((byte)(MailboxGpa >> 16)), 0x00, // mov edi, mailbox
        0xF3, 0x90,                         // wait: pause
        0x0F, 0xB7, 0x07,                   //       movzx eax, word [rdi]      ; Command
        0x83, 0xF8, 0x01,                   //       cmp eax, 1
        0x75, 0xF6,                         //       jne wait
        0x8B, 0x47, 0x04,                   //       mov eax, [rdi + 4]         ; ApicId
        0x39, 0xD8,                         //       cmp eax, ebx
        0x75, 0xEF,                         //       jne wait
        0x48, 0x8B, 0x47, 0x08,             //       mov rax, [rdi + 8]         ; WakeupVector
        0x66, 0xC7, 0x07, 0x00, 0x00,       //       mov word [rdi], 0          ; Command = 0: acknowledged
        0xFF, 0xE0,                         //       jmp rax
    ];

    /// <summary>The tables for <paramref name="vcpus"/> vCPUs, to be placed at <see cref="RsdpGpa"/>.</summary>
    public static byte[] Build(int vcpus)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(vcpus, 1);
        var image = new byte[Size];
        Span<byte> all = image;

        // MADT: header, local APIC address, flags, then the structures.
        int madtLength = 44 + (16 * vcpus) + 16;
        if (0x100 + madtLength > 0x1000)
        {
            throw new ArgumentOutOfRangeException(nameof(vcpus), $"{vcpus} vCPUs do not fit one MADT page");
        }

        Span<byte> madt = all.Slice(0x100, madtLength);
        Header(madt, "APIC", madtLength, 5);
        BinaryPrimitives.WriteUInt32LittleEndian(madt[36..], 0xFEE0_0000);
        BinaryPrimitives.WriteUInt32LittleEndian(madt[40..], 0); // no PCAT_COMPAT
        int at = 44;
        for (int v = 0; v < vcpus; v++)
        {
            Span<byte> e = madt[at..];
            e[0] = 9;   // Processor Local x2APIC
            e[1] = 16;
            BinaryPrimitives.WriteUInt32LittleEndian(e[4..], (uint)v);  // x2APIC ID
            BinaryPrimitives.WriteUInt32LittleEndian(e[8..], 1);        // enabled
            BinaryPrimitives.WriteUInt32LittleEndian(e[12..], (uint)v); // ACPI processor UID
            at += 16;
        }

        Span<byte> wake = madt[at..];
        wake[0] = 0x10; // Multiprocessor Wakeup
        wake[1] = 16;
        BinaryPrimitives.WriteUInt16LittleEndian(wake[2..], 0); // mailbox version
        BinaryPrimitives.WriteUInt64LittleEndian(wake[8..], MailboxGpa);
        Checksum(madt, 9);
        ApWaitCode.CopyTo(all[(int)(ApWaitGpa - RsdpGpa)..]);

        Span<byte> xsdt = all.Slice(0x40, 44);
        Header(xsdt, "XSDT", 44, 1);
        BinaryPrimitives.WriteUInt64LittleEndian(xsdt[36..], MadtGpa);
        Checksum(xsdt, 9);

        Span<byte> rsdp = all[..36];
        Encoding.ASCII.GetBytes("RSD PTR ").CopyTo(rsdp);
        Encoding.ASCII.GetBytes("TDXSIM").CopyTo(rsdp[9..]);
        rsdp[15] = 2;                                                       // revision: ACPI 2.0+
        BinaryPrimitives.WriteUInt32LittleEndian(rsdp[20..], 36);           // length
        BinaryPrimitives.WriteUInt64LittleEndian(rsdp[24..], XsdtGpa);
        rsdp[8] = (byte)(0x100 - Sum(rsdp[..20]));                          // checksum of the first 20 bytes
        rsdp[32] = (byte)(0x100 - Sum(rsdp));                               // extended checksum
        return image;
    }

    private static void Header(Span<byte> t, string signature, int length, byte revision)
    {
        Encoding.ASCII.GetBytes(signature).CopyTo(t);
        BinaryPrimitives.WriteUInt32LittleEndian(t[4..], (uint)length);
        t[8] = revision;
        Encoding.ASCII.GetBytes("TDXSIM").CopyTo(t[10..]);
        Encoding.ASCII.GetBytes("TDXSIMTB").CopyTo(t[16..]);
        BinaryPrimitives.WriteUInt32LittleEndian(t[24..], 1);
        Encoding.ASCII.GetBytes("TDXS").CopyTo(t[28..]);
        BinaryPrimitives.WriteUInt32LittleEndian(t[32..], 1);
    }

    private static void Checksum(Span<byte> table, int offset)
    {
        table[offset] = 0;
        table[offset] = (byte)(0x100 - Sum(table));
    }

    private static byte Sum(ReadOnlySpan<byte> bytes)
    {
        byte s = 0;
        foreach (byte b in bytes)
        {
            s += b;
        }

        return s;
    }
}
