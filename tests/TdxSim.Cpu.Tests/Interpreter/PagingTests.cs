using Iced.Intel;
using TdxSim.Abi;
using TdxSim.Images;
using static Iced.Intel.AssemblerRegisters;

namespace TdxSim.Cpu.Tests.Interpreter;

/// <summary>
/// A vCPU with the guest's own page tables (CpuOptions.GuestSystem): 4 MiB identity-mapped by 2 MiB pages, and a
/// higher-half window at <see cref="High"/> mapped by one page table of 4 KiB entries the tests set. The IDT, GDT and
/// TSS live at fixed guest-physical (= identity-linear) addresses; handlers are assembled separately.
/// </summary>
internal sealed class PagedGuest : IDisposable
{
    public const ulong MemorySize = 4 << 20;
    public const ulong Pml4 = 0x100000;
    public const ulong Pt = 0x105000;
    public const ulong High = 0xFFFF_8000_0000_0000;
    public const ulong Idt = 0x10000;
    public const ulong Gdt = 0x11000;
    public const ulong Tss = 0x12000;
    public const ulong Handlers = 0x20000;
    public const ulong Stack = 0x3F_F000;

    public PagedGuest(Action<Assembler> emit)
    {
        G = new Guest(
            a =>
            {
                emit(a);
                a.hlt();
            },
            MemorySize,
            options: new CpuOptions { GuestSystem = true });
        const ulong p = 1, w = 2, large = 0x80;
        ulong pdpt0 = Pml4 + 0x1000, pd0 = Pml4 + 0x2000, pdpt1 = Pml4 + 0x3000, pd1 = Pml4 + 0x4000;
        G.Write64(Pml4, pdpt0 | p | w);
        G.Write64(Pml4 + (256 * 8), pdpt1 | p | w);
        G.Write64(pdpt0, pd0 | p | w);
        G.Write64(pd0, 0 | p | w | large);
        G.Write64(pd0 + 8, (2UL << 20) | p | w | large);
        G.Write64(pdpt1, pd1 | p | w);
        G.Write64(pd1, Pt | p | w);
        ref CpuState s = ref G.State;
        s.Cr0 = CpuState.LongModeCr0;
        s.Cr4 = CpuState.LongModeCr4;
        s.Efer = CpuState.LongModeEfer;
        s.Cr3 = Pml4;
        s.Cs = 0x10;
        G[Gpr.Rsp] = Stack;

        // GDT: null, null, 64-bit code at 0x10, data at 0x18, a 64-bit TSS at 0x20 (16 bytes).
        G.Write64(Gdt + 0x10, 0x00AF9B000000FFFF);
        G.Write64(Gdt + 0x18, 0x00CF93000000FFFF);
        ulong tssLimit = 0x67;
        G.Write64(Gdt + 0x20, tssLimit | ((Tss & 0xFF_FFFF) << 16) | (0x89UL << 40) | ((Tss >> 24) << 56));
        G.Write64(Gdt + 0x28, Tss >> 32);
        s.GdtrBase = Gdt;
        s.GdtrLimit = 0x2F;
    }

    public Guest G { get; }

    public ref CpuState State => ref G.State;

    /// <summary>PTE n of the higher-half window (linear <see cref="High"/> + n * 4 KiB).</summary>
    public void Map(int n, ulong pte) => G.Write64(Pt + ((ulong)n * 8), pte);

    public ulong Pte(int n) => G.Read64(Pt + ((ulong)n * 8));

    /// <summary>Loads an IDT of 256 empty gates (IDTR limit 0xFFF).</summary>
    public void LoadIdt()
    {
        State.IdtrBase = Idt;
        State.IdtrLimit = 0xFFF;
    }

    /// <summary>Assembles a handler at <paramref name="at"/> and points gate <paramref name="vector"/> at it.</summary>
    public void Handler(byte vector, ulong at, Action<Assembler> emit, int ist = 0, bool trapGate = false)
    {
        GuestProgram h = GuestProgram.Assemble(at, emit);
        G.Write(at, h.Code);
        Gate(vector, at, ist, trapGate);
    }

    public void Gate(byte vector, ulong target, int ist = 0, bool trapGate = false, bool present = true)
    {
        ulong type = trapGate ? 0xFUL : 0xEUL;
        ulong lo = (target & 0xFFFF) | (0x10UL << 16) | ((ulong)ist << 32) | (type << 40) | ((present ? 1UL : 0) << 47) | (((target >> 16) & 0xFFFF) << 48);
        G.Write64(Idt + ((ulong)vector * 16), lo);
        G.Write64(Idt + ((ulong)vector * 16) + 8, target >> 32);
    }

    public CpuExit Run(ulong limit = 1_000_000) => G.Run(limit);

    public void Dispose() => G.Dispose();
}

/// <summary>4-level paging, the TLB and the decoded-block cache under paging (issue 11 part 1).</summary>
public sealed class PagingTests
{
    private const ulong P = 1, W = 2, Nx = 1UL << 63;

    [Fact]
    public void HigherHalf_address_reaches_the_physical_page_and_sets_accessed_and_dirty()
    {
        using var g = new PagedGuest(a =>
        {
            a.mov(rax, PagedGuest.High + 0x1010);
            a.mov(__qword_ptr[rax], 0x1234_5678);
            a.mov(rbx, __qword_ptr[rax]);
            a.mov(rcx, PagedGuest.High + 0x2020);
            a.mov(rdx, __qword_ptr[rcx]);
        });
        g.Map(1, 0x30_0000 | P | W);
        g.Map(2, 0x30_5000 | P);
        g.G.Write64(0x30_5020, 0xFEED);
        g.G.RunToHlt();
        Assert.Equal(0x1234_5678UL, g.G.Read64(0x30_0010));
        Assert.Equal(0x1234_5678UL, g.G[Gpr.Rbx]);
        Assert.Equal(0xFEEDUL, g.G[Gpr.Rdx]);
        Assert.Equal(0x60UL, g.Pte(1) & 0x60);  // accessed and dirty
        Assert.Equal(0x20UL, g.Pte(2) & 0x60);  // accessed only
        Assert.Equal(0x20UL, g.G.Read64(PagedGuest.Pml4 + (256 * 8)) & 0x20);
    }

    [Theory]
    [InlineData(false, 0UL, 0x2u)]          // not present, write
    [InlineData(true, 0UL, 0x3u)]           // read-only, write, CR0.WP
    [InlineData(true, 1UL << 51, 0xBu)]     // a reserved bit (beyond MAXPHYADDR 48)
    public void Write_faults_with_the_page_fault_error_code(bool present, ulong extra, uint errorCode)
    {
        using var g = new PagedGuest(a =>
        {
            a.mov(rax, PagedGuest.High + 0x3008);
            a.mov(__qword_ptr[rax], 1);
        });
        g.Map(3, present ? 0x30_0000 | P | extra : 0);
        CpuExit e = g.Run();
        Assert.Equal(CpuExitKind.Exception, e.Kind);
        Assert.Equal(CpuExit.PageFaultVector, e.Vector);
        Assert.Equal(errorCode, e.ErrorCode);
        Assert.Contains("#PF", e.Detail, StringComparison.Ordinal);
        Assert.Contains("0xffff800000003008", e.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public void Cr0_wp_clear_lets_cpl0_write_a_read_only_page()
    {
        using var g = new PagedGuest(a =>
        {
            a.mov(rax, cr0);
            a.and(rax, ~(1 << 16));
            a.mov(cr0, rax);
            a.mov(rax, PagedGuest.High + 0x3000);
            a.mov(__qword_ptr[rax], 7);
        });
        g.Map(3, 0x30_0000 | P);
        g.G.RunToHlt();
        Assert.Equal(7UL, g.G.Read64(0x30_0000));
    }

    [Fact]
    public void Fetch_from_a_no_execute_page_faults_with_the_fetch_bit()
    {
        using var g = new PagedGuest(a =>
        {
            a.mov(rax, PagedGuest.High + 0x4000);
            a.jmp(rax);
        });
        g.G.Write(0x30_0000, [0xF4]);
        g.Map(4, 0x30_0000 | P | Nx);
        CpuExit e = g.Run();
        Assert.Equal(CpuExit.PageFaultVector, e.Vector);
        Assert.Equal(0x11u, e.ErrorCode);
        Assert.Equal(PagedGuest.High + 0x4000, e.Rip);
    }

    [Fact]
    public void Code_runs_from_a_higher_half_page()
    {
        using var g = new PagedGuest(a =>
        {
            a.mov(rax, PagedGuest.High + 0x4000);
            a.call(rax);
        });
        GuestProgram f = GuestProgram.Assemble(PagedGuest.High + 0x4000, a =>
        {
            a.mov(ebx, 42);
            a.ret();
        });
        g.G.Write(0x30_0000, f.Code);
        g.Map(4, 0x30_0000 | P);
        g.G.RunToHlt();
        Assert.Equal(42UL, g.G[Gpr.Rbx]);
    }

    [Fact]
    public void Tlb_keeps_a_stale_translation_until_invlpg_and_cr3_load_flushes()
    {
        using var g = new PagedGuest(a =>
        {
            a.mov(rax, PagedGuest.High + 0x5000);
            a.mov(rbx, __qword_ptr[rax]);              // fills the TLB: page 0x300000
            a.mov(rdx, PagedGuest.Pt + (5 * 8));
            a.mov(rsi, 0x30_1000UL | P);
            a.mov(__qword_ptr[rdx], rsi);              // remap to 0x301000, no flush
            a.mov(rcx, __qword_ptr[rax]);              // still the old page
            a.invlpg(__[rax]);
            a.mov(r8, __qword_ptr[rax]);               // the new page
            a.mov(rsi, 0x30_2000UL | P);
            a.mov(__qword_ptr[rdx], rsi);
            a.mov(rdi, cr3);
            a.mov(cr3, rdi);                           // same value: still a flush
            a.mov(r9, __qword_ptr[rax]);
        });
        g.G.Write64(0x30_0000, 1);
        g.G.Write64(0x30_1000, 2);
        g.G.Write64(0x30_2000, 3);
        g.Map(5, 0x30_0000 | P);
        g.G.RunToHlt();
        Assert.Equal(1UL, g.G[Gpr.Rbx]);
        Assert.Equal(1UL, g.G[Gpr.Rcx]);
        Assert.Equal(2UL, g.G[Gpr.R8]);
        Assert.Equal(3UL, g.G[Gpr.R9]);
    }

    [Fact]
    public void Decoded_code_follows_a_remapped_code_page()
    {
        // The same linear code page, first mapped to a page returning 1 and then, after INVLPG, to one returning 2: the
        // block decoded from the first page must not run for the second.
        using var g = new PagedGuest(a =>
        {
            a.mov(rax, PagedGuest.High + 0x6000);
            a.call(rax);
            a.mov(r12, rbx);
            a.mov(rdx, PagedGuest.Pt + (6 * 8));
            a.mov(rsi, 0x30_4000UL | P);
            a.mov(__qword_ptr[rdx], rsi);
            a.invlpg(__[rax]);
            a.call(rax);
            a.mov(r13, rbx);
        });
        g.G.Write(0x30_3000, GuestProgram.Assemble(PagedGuest.High + 0x6000, a => { a.mov(ebx, 1); a.ret(); }).Code);
        g.G.Write(0x30_4000, GuestProgram.Assemble(PagedGuest.High + 0x6000, a => { a.mov(ebx, 2); a.ret(); }).Code);
        g.Map(6, 0x30_3000 | P);
        g.G.RunToHlt();
        Assert.Equal(1UL, g.G[Gpr.R12]);
        Assert.Equal(2UL, g.G[Gpr.R13]);
    }

    [Fact]
    public void Shared_bit_in_a_pte_makes_the_access_a_shared_gpa_access()
    {
        using var g = new PagedGuest(a =>
        {
            a.mov(rax, PagedGuest.High + 0x7010);
            a.mov(ebx, __dword_ptr[rax]);
        });
        g.Map(7, GuestPhysical.SharedBit | 0x30_0000 | P | W);
        CpuExit e = g.Run();

        // Nothing backs the shared GPA: an EPT-violation #VE (MMIO) naming the GPA with the shared bit and the linear address.
        Assert.Equal(CpuExitKind.VirtualizationException, e.Kind);
        Assert.Equal(GuestPhysical.SharedBit | 0x30_0010, e.Ve.Gpa);
        Assert.Equal(PagedGuest.High + 0x7010, e.Ve.Gla);
    }

    [Fact]
    public void Non_canonical_address_is_gp()
    {
        using var g = new PagedGuest(a =>
        {
            a.mov(rax, 0x0000_8000_0000_0000UL);
            a.mov(rbx, __qword_ptr[rax]);
        });
        CpuExit e = g.Run();
        Assert.Equal(CpuExit.GeneralProtection, e.Vector);
        Assert.Contains("non-canonical", e.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public void Five_level_paging_is_refused()
    {
        using var g = new PagedGuest(a =>
        {
            a.mov(rax, cr4);
            a.or(rax, 1 << 12);
            a.mov(cr4, rax);
        });
        CpuExit e = g.Run();
        Assert.Equal(CpuExit.GeneralProtection, e.Vector);
        Assert.Equal(0UL, g.State.Cr4 & (1UL << 12));
    }

    [Fact]
    public void Straddling_read_across_non_adjacent_pages_is_assembled()
    {
        using var g = new PagedGuest(a =>
        {
            a.mov(rax, PagedGuest.High + 0x8FFC);
            a.mov(rbx, __qword_ptr[rax]);
        });
        g.Map(8, 0x30_0000 | P);
        g.Map(9, 0x30_7000 | P);
        g.G.Write(0x30_0FFC, [1, 2, 3, 4]);
        g.G.Write(0x30_7000, [5, 6, 7, 8]);
        g.G.RunToHlt();
        Assert.Equal(0x0807_0605_0403_0201UL, g.G[Gpr.Rbx]);
    }
}
