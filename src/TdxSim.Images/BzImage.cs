using System.Buffers.Binary;
using System.Text;

namespace TdxSim.Images;

/// <summary>
/// What the Linux x86 64-bit boot protocol hands the kernel besides its memory (Documentation/arch/x86/boot.rst,
/// "64-bit Boot Protocol"): RSI = the zero page, paging on with <see cref="Cr3"/>, a GDT with flat
/// <c>__BOOT_CS</c> (0x10) and <c>__BOOT_DS</c> (0x18) loaded, CS = 0x10 and DS, ES, SS = 0x18.
/// </summary>
/// <param name="ZeroPage">GPA of <c>struct boot_params</c>.</param>
/// <param name="Cr3">GPA of the identity-mapping PML4.</param>
/// <param name="GdtBase">GPA of the GDT.</param>
/// <param name="GdtLimit">GDT limit (size - 1).</param>
public sealed record LinuxBootState(ulong ZeroPage, ulong Cr3, ulong GdtBase, ushort GdtLimit)
{
    /// <summary>Where an application processor (vCPU 1 and up) starts instead of the kernel's entry: the firmware's
    /// wait on the ACPI multiprocessor wakeup mailbox (<see cref="AcpiTables.ApWaitGpa"/>), in the same 64-bit state as
    /// the boot processor (<see cref="Cr3"/>, the GDT, <see cref="BootCs"/>/<see cref="BootDs"/>) with
    /// RBX = its x2APIC ID (the vCPU index).</summary>
    public ulong ApEntry { get; init; } = AcpiTables.ApWaitGpa;

    /// <summary>The code selector the protocol requires (<c>__BOOT_CS</c>).</summary>
    public const ushort BootCs = 0x10;

    /// <summary>The data selector the protocol requires (<c>__BOOT_DS</c>).</summary>
    public const ushort BootDs = 0x18;
}

/// <summary>What <see cref="BzImage.Load"/> needs besides the kernel file.</summary>
/// <param name="MemoryBytes">Private memory of the TD: <c>[0, MemoryBytes)</c>.</param>
/// <param name="CommandLine">The kernel command line (<c>--append</c>), or empty.</param>
/// <param name="Initrd">The initial ramdisk bytes (<c>--initrd</c>), or null.</param>
/// <param name="Vcpus">vCPUs of the TD: one Processor Local x2APIC structure each in the MADT.</param>
public sealed record BzImageOptions(ulong MemoryBytes, string CommandLine = "", ReadOnlyMemory<byte>? Initrd = null, int Vcpus = 1);

/// <summary>
/// Loads a Linux bzImage by the x86 boot protocol for its 64-bit entry (contract section 9): the setup header is
/// read and checked (boot flag, "HdrS", protocol 2.12 or later, <c>XLF_KERNEL_64</c>), the protected-mode kernel
/// goes to <c>pref_address</c>, and the loader builds in low memory the zero page (header copied in, e820 map,
/// command line and initrd pointers), the command line, a GDT and 2 MiB identity-mapping page tables covering
/// memory. The initrd goes as high as <c>initrd_addr_max</c> and memory allow. Entry: load address + 0x200
/// (<c>startup_64</c>).
/// </summary>
public static class BzImage
{
    /// <summary>Oldest protocol accepted: 2.12 introduced <c>xloadflags</c>, which says whether a 64-bit entry exists.</summary>
    public const ushort MinimumProtocol = 0x020C;

    /// <summary>Where the loader's own structures live; e820 marks <c>[LoaderArea, LoaderAreaEnd)</c> reserved.</summary>
    public const ulong LoaderArea = 0x10000;

    /// <summary>End of the reserved loader area (the 1 MiB line).</summary>
    public const ulong LoaderAreaEnd = 0x100000;

    /// <summary>GPA of the zero page (<c>struct boot_params</c>).</summary>
    public const ulong ZeroPageGpa = LoaderArea;

    /// <summary>GPA of the command line.</summary>
    public const ulong CommandLineGpa = LoaderArea + 0x1000;

    /// <summary>Room for the command line.</summary>
    public const ulong CommandLineRoom = 0x8000;

    /// <summary>GPA of the GDT.</summary>
    public const ulong GdtGpa = CommandLineGpa + CommandLineRoom;

    /// <summary>GPA of the PML4; the PDPT follows, then one page directory per GiB.</summary>
    public const ulong Pml4Gpa = GdtGpa + 0x1000;

    /// <summary>Offset of the 64-bit entry from the protected-mode kernel's load address.</summary>
    public const ulong StartupOffset64 = 0x200;

    private const int SetupHeaderOffset = 0x1F1;
    private const uint HdrSMagic = 0x53726448;
    private const ushort XlfKernel64 = 1 << 0;
    private const ushort XlfCanBeLoadedAbove4G = 1 << 1;
    private const int E820Max = 128;
    private const uint E820Ram = 1;
    private const uint E820Reserved = 2;
    private const uint E820Acpi = 3;
    private const ulong PageSize = 0x1000;

    /// <summary>True when the bytes carry a boot-protocol setup header (boot flag 0xAA55 and "HdrS").</summary>
    public static bool HasHeader(ReadOnlySpan<byte> bytes) =>
        bytes.Length >= 0x268
        && BinaryPrimitives.ReadUInt16LittleEndian(bytes[0x1FE..]) == 0xAA55
        && BinaryPrimitives.ReadUInt32LittleEndian(bytes[0x202..]) == HdrSMagic;

    /// <summary>Reads a kernel (and an initrd) file and loads it; messages name the path.</summary>
    /// <exception cref="ImageFormatException">A file is unreadable or the kernel is unusable (exit status 2).</exception>
    public static GuestImage LoadFile(string kernelPath, string commandLine, string? initrdPath, ulong memoryBytes, int vcpus = 1)
    {
        byte[] kernel = ReadFile(kernelPath, "kernel");
        byte[]? initrd = initrdPath is null ? null : ReadFile(initrdPath, "initrd");
        try
        {
            return Load(kernel, new BzImageOptions(memoryBytes, commandLine, initrd is null ? (ReadOnlyMemory<byte>?)null : initrd, vcpus));
        }
        catch (ImageFormatException e)
        {
            throw new ImageFormatException($"{kernelPath}: {e.Message}", e);
        }
    }

    /// <summary>Loads a bzImage held in memory.</summary>
    /// <exception cref="ImageFormatException">Not a bzImage, protocol too old, no 64-bit entry, or too large for memory.</exception>
    public static GuestImage Load(ReadOnlySpan<byte> bytes, BzImageOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (!HasHeader(bytes))
        {
            throw new ImageFormatException("not a bzImage (no boot flag 0xAA55 and \"HdrS\" setup header at 0x1FE/0x202)");
        }

        ushort version = BinaryPrimitives.ReadUInt16LittleEndian(bytes[0x206..]);
        if (version < MinimumProtocol)
        {
            throw new ImageFormatException(
                $"boot protocol {version >> 8}.{version & 0xFF:d2} is too old: the 64-bit entry needs 2.12 or later");
        }

        ushort xloadflags = BinaryPrimitives.ReadUInt16LittleEndian(bytes[0x236..]);
        if ((xloadflags & XlfKernel64) == 0)
        {
            throw new ImageFormatException("the kernel has no 64-bit entry (xloadflags XLF_KERNEL_64 is clear)");
        }

        int setupSects = bytes[SetupHeaderOffset] == 0 ? 4 : bytes[SetupHeaderOffset];
        int kernelOffset = (setupSects + 1) * 512;
        int headerEnd = 0x202 + bytes[0x201];
        if (kernelOffset >= bytes.Length || headerEnd > kernelOffset || headerEnd > 0x1000 || headerEnd < 0x268)
        {
            throw new ImageFormatException(
                $"setup header is inconsistent: setup_sects {setupSects}, header end 0x{headerEnd:x}, file size 0x{bytes.Length:x}");
        }

        ulong prefAddress = BinaryPrimitives.ReadUInt64LittleEndian(bytes[0x258..]);
        uint initSize = BinaryPrimitives.ReadUInt32LittleEndian(bytes[0x260..]);
        uint cmdlineSize = BinaryPrimitives.ReadUInt32LittleEndian(bytes[0x238..]);
        uint initrdAddrMax = BinaryPrimitives.ReadUInt32LittleEndian(bytes[0x22C..]);
        ReadOnlySpan<byte> protectedMode = bytes[kernelOffset..];
        ulong footprint = Math.Max(initSize, (ulong)protectedMode.Length);
        ulong memory = options.MemoryBytes;
        if (prefAddress < LoaderAreaEnd || prefAddress % PageSize != 0)
        {
            throw new ImageFormatException($"pref_address 0x{prefAddress:x} is below 1 MiB or not page aligned");
        }

        if (prefAddress + footprint > memory)
        {
            throw new ImageFormatException(
                $"the kernel is too large for memory: it needs [0x{prefAddress:x}, 0x{prefAddress + footprint:x}) (init_size 0x{initSize:x} at pref_address) but memory ends at 0x{memory:x}");
        }

        byte[] cmdline = Encoding.UTF8.GetBytes(options.CommandLine);
        if ((ulong)cmdline.Length > cmdlineSize || (ulong)cmdline.Length >= CommandLineRoom)
        {
            throw new ImageFormatException($"the command line is {cmdline.Length} bytes; this kernel takes at most {Math.Min(cmdlineSize, CommandLineRoom - 1)}");
        }

        ulong gigabytes = (memory + (1UL << 30) - 1) >> 30;
        ulong tablesEnd = Pml4Gpa + ((2 + gigabytes) * PageSize);
        if (tablesEnd > AcpiTables.RsdpGpa)
        {
            throw new ImageFormatException($"memory of 0x{memory:x} bytes needs more identity-mapping page tables than fit below 1 MiB");
        }

        var segments = new List<ImageSegment>();
        ulong initrdGpa = 0, initrdSize = 0;
        if (options.Initrd is { } initrd)
        {
            initrdSize = (ulong)initrd.Length;
            ulong kernelEnd = prefAddress + footprint;
            ulong ceiling = Math.Min(memory, (xloadflags & XlfCanBeLoadedAbove4G) != 0 ? memory : (ulong)initrdAddrMax + 1);
            ulong top = ceiling > initrdSize ? (ceiling - initrdSize) & ~(PageSize - 1) : 0;
            if (initrdSize == 0 || top < kernelEnd)
            {
                throw new ImageFormatException(
                    $"the initrd ({initrdSize} bytes) does not fit in memory between the kernel's end 0x{kernelEnd:x} and 0x{ceiling:x}");
            }

            initrdGpa = top;
            segments.Add(new ImageSegment(initrdGpa, initrd, initrdSize));
        }

        byte[] zeroPage = BuildZeroPage(bytes[SetupHeaderOffset..headerEnd], prefAddress, cmdline.Length, initrdGpa, initrdSize, memory, tablesEnd);
        byte[] cmdlineBytes = new byte[cmdline.Length + 1];
        cmdline.CopyTo(cmdlineBytes, 0);
        byte[] gdt = BuildGdt();
        byte[] tables = BuildIdentityTables(gigabytes);

        segments.Insert(0, new ImageSegment(prefAddress, protectedMode.ToArray(), (ulong)protectedMode.Length));
        segments.Add(new ImageSegment(ZeroPageGpa, zeroPage, (ulong)zeroPage.Length));
        segments.Add(new ImageSegment(CommandLineGpa, cmdlineBytes, (ulong)cmdlineBytes.Length));
        segments.Add(new ImageSegment(GdtGpa, gdt, (ulong)gdt.Length));
        segments.Add(new ImageSegment(Pml4Gpa, tables, (ulong)tables.Length));
        byte[] acpi = AcpiTables.Build(options.Vcpus);
        segments.Add(new ImageSegment(AcpiTables.RsdpGpa, acpi, (ulong)acpi.Length));
        return new GuestImage(GuestImageFormat.BzImage, prefAddress + StartupOffset64, segments)
        {
            Linux = new LinuxBootState(ZeroPageGpa, Pml4Gpa, GdtGpa, (ushort)(gdt.Length - 1)),
        };
    }

    private static byte[] BuildZeroPage(ReadOnlySpan<byte> header, ulong load, int cmdlineLength, ulong initrd, ulong initrdSize, ulong memory, ulong loaderEnd)
    {
        var zp = new byte[PageSize];
        Span<byte> z = zp;
        header.CopyTo(z[SetupHeaderOffset..]);
        z[0x210] = 0xFF;                                                     // type_of_loader: undefined
        z[0x211] |= 0x01;                                                    // loadflags: LOADED_HIGH
        BinaryPrimitives.WriteUInt32LittleEndian(z[0x214..], (uint)load);    // code32_start
        BinaryPrimitives.WriteUInt32LittleEndian(z[0x218..], (uint)initrd);  // ramdisk_image
        BinaryPrimitives.WriteUInt32LittleEndian(z[0x21C..], (uint)initrdSize);
        BinaryPrimitives.WriteUInt32LittleEndian(z[0x228..], (uint)CommandLineGpa); // cmd_line_ptr
        BinaryPrimitives.WriteUInt32LittleEndian(z[0x0C0..], (uint)(initrd >> 32));     // ext_ramdisk_image
        BinaryPrimitives.WriteUInt32LittleEndian(z[0x0C4..], (uint)(initrdSize >> 32)); // ext_ramdisk_size
        BinaryPrimitives.WriteUInt32LittleEndian(z[0x0C8..], 0);                         // ext_cmd_line_ptr
        BinaryPrimitives.WriteUInt64LittleEndian(z[0x070..], AcpiTables.RsdpGpa);       // acpi_rsdp_addr
        _ = cmdlineLength;

        // e820: RAM below the loader area, the loader's structures reserved, RAM up to the ACPI tables (Linux needs
        // memory below 1 MiB for its real-mode trampoline), the tables, the rest below 1 MiB reserved, RAM from 1 MiB
        // to the end of memory.
        (ulong Start, ulong End, uint Type)[] map =
        [
            (0, LoaderArea, E820Ram),
            (LoaderArea, loaderEnd, E820Reserved),
            (loaderEnd, AcpiTables.RsdpGpa, E820Ram),

            // ACPI tables as ACPI-typed memory: a TDX guest maps them private (ioremap maps reserved memory shared).
            (AcpiTables.RsdpGpa, AcpiTables.RsdpGpa + AcpiTables.Size, E820Acpi),
            (AcpiTables.RsdpGpa + AcpiTables.Size, LoaderAreaEnd, E820Reserved),
            (LoaderAreaEnd, memory, E820Ram),
        ];
        int n = 0;
        foreach ((ulong start, ulong end, uint type) in map)
        {
            if (end <= start || n == E820Max)
            {
                continue;
            }

            Span<byte> e = z[(0x2D0 + (n * 20))..];
            BinaryPrimitives.WriteUInt64LittleEndian(e, start);
            BinaryPrimitives.WriteUInt64LittleEndian(e[8..], end - start);
            BinaryPrimitives.WriteUInt32LittleEndian(e[16..], type);
            n++;
        }

        z[0x1E8] = (byte)n; // e820_entries
        return zp;
    }

    /// <summary>Null, null, then <c>__BOOT_CS</c> (64-bit code, flat) and <c>__BOOT_DS</c> (data, flat 4 GiB).</summary>
    private static byte[] BuildGdt()
    {
        var gdt = new byte[32];
        BinaryPrimitives.WriteUInt64LittleEndian(gdt.AsSpan(0x10), 0x00AF9B000000FFFF);
        BinaryPrimitives.WriteUInt64LittleEndian(gdt.AsSpan(0x18), 0x00CF93000000FFFF);
        return gdt;
    }

    /// <summary>PML4, PDPT, then one page directory of 2 MiB pages per GiB: linear = physical over memory.</summary>
    private static byte[] BuildIdentityTables(ulong gigabytes)
    {
        const ulong present = 1, writable = 2, large = 0x80;
        var t = new byte[(2 + gigabytes) * PageSize];
        Span<byte> s = t;
        ulong pdpt = Pml4Gpa + PageSize;
        BinaryPrimitives.WriteUInt64LittleEndian(s, pdpt | present | writable);
        for (ulong g = 0; g < gigabytes; g++)
        {
            ulong pd = pdpt + ((1 + g) * PageSize);
            BinaryPrimitives.WriteUInt64LittleEndian(s[(int)(PageSize + (g * 8))..], pd | present | writable);
            for (ulong e = 0; e < 512; e++)
            {
                ulong address = (g << 30) | (e << 21);
                BinaryPrimitives.WriteUInt64LittleEndian(s[(int)(((2 + g) * PageSize) + (e * 8))..], address | present | writable | large);
            }
        }

        return t;
    }

    private static byte[] ReadFile(string path, string what)
    {
        try
        {
            return File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            string why = e switch
            {
                FileNotFoundException or DirectoryNotFoundException => "file not found",
                UnauthorizedAccessException => "cannot be read (permission denied or a directory)",
                _ => $"cannot be read: {e.Message}",
            };
            throw new ImageFormatException($"{path}: {what} {why}", e);
        }
    }
}
