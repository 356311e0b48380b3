using System.Buffers.Binary;
using TdxSim.Abi;
using TdxSim.Cpu;
using TdxSim.Memory;

namespace TdxSim.Benchmarks.Cpu;

/// <summary>
/// The crc32 anchor guest (shared/anchors/bin/crc32-guest.elf) on a bare <see cref="TdxSim.Cpu.Cpu"/>: loads the ELF's
/// PT_LOAD segments, runs to the debug-exit port and emulates the two ports it uses (UART LSR reads 0x20, bytes to
/// THR 0x3F8 are collected; OUT to 0xF4 ends the run). No actors, no TDX module: this measures the interpreter.
/// </summary>
public sealed class Crc32Workload : IDisposable
{
    /// <summary>What the guest must print.</summary>
    public const string ExpectedOutput = "crc32=27951c8c\n";

    private const ulong MemorySize = 4 << 20;
    private readonly byte[] _elf;
    private readonly char[] _output = new char[64];
    private int _outputLength;
    private GuestPhysicalMemory? _memory;
    private TdxSim.Cpu.Cpu? _cpu;
    private ulong _entry;

    public Crc32Workload(string elfPath, bool paging = false)
    {
        _elf = File.ReadAllBytes(elfPath);
        Paging = paging;
    }

    /// <summary>Whether the guest runs with paging on (CpuOptions.GuestSystem): its memory identity-mapped by 4 KiB
    /// pages in 4-level tables the workload builds above the guest's memory, so every access goes through the TLB.</summary>
    public bool Paging { get; }

    private const ulong TablesBase = MemorySize;
    private const ulong TablesSize = 0x10_0000;

    /// <summary>Guest instructions retired by the last <see cref="Run"/>.</summary>
    public ulong InstructionsRetired { get; private set; }

    /// <summary>What the guest printed in the last <see cref="Run"/>.</summary>
    public string Output => new(_output, 0, _outputLength);

    /// <summary>True when the last run printed <see cref="ExpectedOutput"/> (compares without allocating).</summary>
    public bool PrintedExpected => _output.AsSpan(0, _outputLength).SequenceEqual(ExpectedOutput);

    /// <summary>The anchor ELF: under $TDXSIM_SHARED, else in a shared/ folder beside an ancestor of the working or base
    /// directory, else the copy in tests/fixtures/anchors.</summary>
    public static string FindElf()
    {
        const string relative = "anchors/bin/crc32-guest.elf";
        string? shared = Environment.GetEnvironmentVariable("TDXSIM_SHARED");
        if (shared != null && File.Exists(Path.Combine(shared, relative)))
        {
            return Path.Combine(shared, relative);
        }

        foreach (string start in new[] { Directory.GetCurrentDirectory(), AppContext.BaseDirectory })
        {
            for (var dir = new DirectoryInfo(start); dir != null; dir = dir.Parent)
            {
                string candidate = Path.Combine(dir.FullName, "shared", relative);
                if (File.Exists(candidate))
                {
                    return candidate;
                }

                // A clone without shared/ beside it: the copy kept with the tests.
                string fixture = Path.Combine(dir.FullName, "tests", "fixtures", "anchors", "crc32-guest.elf");
                if (File.Exists(fixture))
                {
                    return fixture;
                }
            }
        }

        throw new FileNotFoundException($"shared/{relative} not found (set TDXSIM_SHARED to the shared/ folder)");
    }

    /// <summary>Fresh memory and vCPU with the image loaded (not timed by the benchmark).</summary>
    public void Prepare()
    {
        _memory?.Dispose();
        _memory = new GuestPhysicalMemory(Paging ? MemorySize + TablesSize : MemorySize);
        _entry = LoadElf(_memory, _elf);
        if (Paging)
        {
            BuildIdentityTables(_memory);
        }

        _cpu = new TdxSim.Cpu.Cpu(_memory, 0, new CpuOptions { GuestSystem = Paging });
    }

    /// <summary>Runs the guest from its entry to the debug exit (the vCPU and its decoded blocks are reused across
    /// runs; the guest re-initialises its own data). Allocates nothing.</summary>
    /// <returns>Instructions retired.</returns>
    public ulong Run()
    {
        TdxSim.Cpu.Cpu cpu = _cpu ?? throw new InvalidOperationException("call Prepare first");
        ref CpuState s = ref cpu.State;
        s = default;
        s.Rflags = CpuState.ResetRflags;
        s.Rip = _entry;
        s.Gpr[Gpr.Rsp] = MemorySize;
        if (Paging)
        {
            s.Cr0 = CpuState.LongModeCr0;
            s.Cr4 = CpuState.LongModeCr4;
            s.Efer = CpuState.LongModeEfer;
            s.Cr3 = TablesBase;
        }

        _outputLength = 0;
        while (true)
        {
            CpuExit exit = cpu.Run(ulong.MaxValue);
            if (exit.Kind != CpuExitKind.VirtualizationException || exit.Ve.ExitReason != VeExitReason.IoInstruction)
            {
                throw new InvalidOperationException($"unexpected exit: {exit}");
            }

            ulong q = exit.Ve.ExitQualification;
            ushort port = IoQualification.Port(q);
            if (IoQualification.IsIn(q))
            {
                // 16550A LSR: transmitter holding register empty.
                s.Gpr[Gpr.Rax] = (s.Gpr[Gpr.Rax] & ~0xFFUL) | (port == 0x3FD ? 0x20UL : 0xFFUL);
            }
            else if (port == 0x3F8)
            {
                if (_outputLength == _output.Length)
                {
                    throw new InvalidOperationException("the guest printed more than expected");
                }

                _output[_outputLength++] = (char)(byte)s.Gpr[Gpr.Rax];
            }
            else if (port == 0xF4)
            {
                InstructionsRetired = s.InstructionsRetired;
                return InstructionsRetired;
            }

            s.Rip += exit.Ve.InstructionLength;
        }
    }

    public void Dispose() => _memory?.Dispose();

    /// <summary>PML4, PDPT, PD, then page tables of 4 KiB pages: linear = guest-physical over the guest's memory.</summary>
    private static void BuildIdentityTables(GuestPhysicalMemory memory)
    {
        const ulong present = 1, writable = 2, page = 0x1000;
        ulong pml4 = TablesBase, pdpt = pml4 + page, pd = pdpt + page, pt = pd + page;
        byte[] entry = new byte[8];
        void Write(ulong gpa, ulong value)
        {
            BinaryPrimitives.WriteUInt64LittleEndian(entry, value);
            if (!memory.TryWritePrivate(gpa, entry))
            {
                throw new InvalidOperationException($"page-table write at 0x{gpa:x} failed");
            }
        }

        Write(pml4, pdpt | present | writable);
        Write(pdpt, pd | present | writable);
        for (ulong t = 0; t < MemorySize / (512 * page); t++)
        {
            Write(pd + (t * 8), (pt + (t * page)) | present | writable);
        }

        for (ulong p = 0; p < MemorySize / page; p++)
        {
            Write(pt + (p * 8), (p * page) | present | writable);
        }
    }

    /// <summary>Minimal ELF64 loader: copies each PT_LOAD segment to its physical address (file part, rest zero).</summary>
    private static ulong LoadElf(GuestPhysicalMemory memory, byte[] elf)
    {
        ReadOnlySpan<byte> e = elf;
        if (e.Length < 64 || BinaryPrimitives.ReadUInt32LittleEndian(e) != 0x464C457F || e[4] != 2)
        {
            throw new InvalidDataException("not an ELF64 file");
        }

        ulong entry = BinaryPrimitives.ReadUInt64LittleEndian(e[24..]);
        ulong phoff = BinaryPrimitives.ReadUInt64LittleEndian(e[32..]);
        int phentsize = BinaryPrimitives.ReadUInt16LittleEndian(e[54..]);
        int phnum = BinaryPrimitives.ReadUInt16LittleEndian(e[56..]);
        for (int k = 0; k < phnum; k++)
        {
            ReadOnlySpan<byte> ph = e[(int)(phoff + (ulong)(k * phentsize))..];
            if (BinaryPrimitives.ReadUInt32LittleEndian(ph) != 1)
            {
                continue;
            }

            ulong offset = BinaryPrimitives.ReadUInt64LittleEndian(ph[8..]);
            ulong paddr = BinaryPrimitives.ReadUInt64LittleEndian(ph[24..]);
            ulong filesz = BinaryPrimitives.ReadUInt64LittleEndian(ph[32..]);
            if (!memory.TryWritePrivate(paddr, e.Slice((int)offset, (int)filesz)))
            {
                throw new InvalidDataException($"PT_LOAD at 0x{paddr:x} does not fit guest memory");
            }
        }

        return entry;
    }
}
