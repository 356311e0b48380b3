using Iced.Intel;
using TdxSim.Abi;
using static Iced.Intel.AssemblerRegisters;

namespace TdxSim.Cpu.Tests.Interpreter;

/// <summary>
/// The CPU's virtual APIC (APICv virtual-interrupt delivery as a TD has it): posted interrupts delivered through the
/// guest's IDT by priority with RFLAGS.IF and STI blocking honoured, TPR/PPR, EOI, SELF_IPI and the IRR/ISR reads,
/// none of which leave the CPU.
/// </summary>
public sealed class VirtualApicTests
{
    private const uint TprMsr = 0x808, PprMsr = 0x80A, EoiMsr = 0x80B, IsrMsr = 0x810, IrrMsr = 0x820, SelfIpiMsr = 0x83F;

    /// <summary>A handler that counts in R15 and records its turn in <paramref name="record"/>, then EOIs (unless
    /// told not to) and returns.</summary>
    private static void Counting(PagedGuest g, byte vector, int slot, AssemblerRegister64 record, bool eoi = true, Action<Assembler>? extra = null)
    {
        g.Handler(vector, PagedGuest.Handlers + ((ulong)slot * 0x100), a =>
        {
            a.push(rax);
            a.push(rcx);
            a.push(rdx);
            a.inc(r15);
            a.mov(record, r15);
            extra?.Invoke(a);
            if (eoi)
            {
                a.mov(ecx, EoiMsr);
                a.xor(eax, eax);
                a.xor(edx, edx);
                a.wrmsr();
            }

            a.pop(rdx);
            a.pop(rcx);
            a.pop(rax);
            a.iretq();
        });
    }

    [Fact]
    public void Posted_interrupt_waits_for_sti_then_is_delivered_after_the_next_instruction()
    {
        using var g = new PagedGuest(a =>
        {
            a.mov(ebx, 1);
            a.mov(ebx, 2);
            a.sti();
            a.mov(ebx, 3);   // STI blocking: this one runs first
            a.mov(ebx, 4);
        });
        g.LoadIdt();
        g.Handler(0x40, PagedGuest.Handlers, a =>
        {
            a.mov(r8, rbx);                   // what ran before the interrupt
            a.mov(r9, __qword_ptr[rsp]);      // return RIP
            a.mov(ecx, IsrMsr + 2);           // ISR bits 95:64 (vector 0x40)
            a.rdmsr();
            a.mov(r10, rax);
            a.mov(ecx, EoiMsr);
            a.xor(eax, eax);
            a.xor(edx, edx);
            a.wrmsr();
            a.mov(ecx, IsrMsr + 2);
            a.rdmsr();
            a.mov(r11, rax);
            a.iretq();
        });
        g.G.Cpu.PostInterrupt(0x40);
        Assert.True(g.G.Cpu.HasRequestedInterrupt);
        g.G.RunToHlt();
        Assert.Equal(3UL, g.G[Gpr.R8]);
        Assert.Equal(Guest.CodeBase + 5 + 5 + 1 + 5, g.G[Gpr.R9]);
        Assert.Equal(1UL, g.G[Gpr.R10]);  // in service while the handler runs
        Assert.Equal(0UL, g.G[Gpr.R11]);  // EOI cleared it
        Assert.Equal(4UL, g.G[Gpr.Rbx]);
        Assert.Equal(1UL, g.G.Cpu.ExternalInterrupts);
        Assert.False(g.G.Cpu.HasRequestedInterrupt);
        Assert.Equal(-1, g.G.Cpu.HighestInServiceVector);
    }

    [Fact]
    public void Interrupts_stay_pending_while_if_is_clear()
    {
        using var g = new PagedGuest(a =>
        {
            a.mov(ebx, 1);
            a.mov(ecx, IrrMsr + 1); // IRR bits 63:32
            a.rdmsr();
        });
        g.LoadIdt();
        Counting(g, 0x21, 0, r8);
        g.G.Cpu.PostInterrupt(0x21);
        g.G.RunToHlt();
        Assert.Equal(0UL, g.G[Gpr.R15]);
        Assert.Equal(2UL, g.G[Gpr.Rax]); // vector 0x21 requested
        Assert.Equal(0x21, g.G.Cpu.HighestRequestedVector);
    }

    [Fact]
    public void Highest_priority_first_and_lower_classes_wait_for_eoi()
    {
        using var g = new PagedGuest(a =>
        {
            a.sti();
            a.nop();
            a.nop();
        });
        g.LoadIdt();
        Counting(g, 0x31, 0, r8);
        Counting(g, 0x51, 1, r9);
        Counting(g, 0xE1, 2, r10);
        g.G.Cpu.PostInterrupt(0x31);
        g.G.Cpu.PostInterrupt(0xE1);
        g.G.Cpu.PostInterrupt(0x51);
        g.G.RunToHlt();
        Assert.Equal(1UL, g.G[Gpr.R10]); // 0xE1 first
        Assert.Equal(2UL, g.G[Gpr.R9]);  // then 0x51
        Assert.Equal(3UL, g.G[Gpr.R8]);  // then 0x31
    }

    [Fact]
    public void Ppr_follows_the_vector_in_service_and_one_class_is_ordered_by_vector()
    {
        using var g = new PagedGuest(a =>
        {
            a.sti();
            a.nop();
            a.nop();
        });
        g.LoadIdt();

        // While 0x51 is in service PPR is its class.
        Counting(g, 0x51, 0, r8, extra: a =>
        {
            a.mov(ecx, PprMsr);
            a.rdmsr();
            a.mov(r11, rax);
            a.sti();
            a.nop();
            a.nop();
            a.cli();
        });
        Counting(g, 0x52, 1, r9);
        Counting(g, 0x61, 2, r10);
        g.G.Cpu.PostInterrupt(0x51);
        g.G.RunToHlt(); // 0x51 taken and returned (no nested requests yet)
        Assert.Equal(1UL, g.G[Gpr.R8]);
        Assert.Equal(0x50UL, g.G[Gpr.R11]);

        using var h = new PagedGuest(a =>
        {
            a.sti();
            a.nop();
            a.nop();
        });
        h.LoadIdt();
        Counting(h, 0x51, 0, r8, extra: a =>
        {
            a.mov(r12, 1);
            a.sti();
            a.nop();
            a.nop();
            a.cli();
        });
        Counting(h, 0x52, 1, r9);
        Counting(h, 0x61, 2, r10);
        h.G.Cpu.PostInterrupt(0x51);
        h.G.Cpu.PostInterrupt(0x61);
        h.G.Cpu.PostInterrupt(0x52);
        h.G.RunToHlt();

        // 0x61 first (highest), then 0x52 before 0x51 (both class 5, 0x52 higher), each after EOI of the other.
        Assert.Equal(1UL, h.G[Gpr.R10]);
        Assert.Equal(2UL, h.G[Gpr.R9]);
        Assert.Equal(3UL, h.G[Gpr.R8]);
    }

    [Fact]
    public void Nested_higher_class_interrupts_a_handler_in_service()
    {
        using var g = new PagedGuest(a =>
        {
            a.sti();
            a.nop();
            a.nop();
        });
        g.LoadIdt();
        Counting(g, 0x41, 0, r8, extra: a =>
        {
            // While 0x41 is in service, a self-IPI of 0x42 (same class) and of 0x71 (higher).
            a.mov(ecx, SelfIpiMsr);
            a.mov(eax, 0x42);
            a.xor(edx, edx);
            a.wrmsr();
            a.mov(eax, 0x71);
            a.wrmsr();
            a.sti();
            a.nop();
            a.nop();
            a.mov(r13, r15); // count after the nesting window
            a.cli();
        });
        Counting(g, 0x42, 1, r9);
        Counting(g, 0x71, 2, r10);
        g.G.Cpu.PostInterrupt(0x41);
        g.G.RunToHlt();
        Assert.Equal(1UL, g.G[Gpr.R8]);
        Assert.Equal(2UL, g.G[Gpr.R10]); // 0x71 nested inside 0x41
        Assert.Equal(2UL, g.G[Gpr.R13]); // 0x42 did not nest
        Assert.Equal(3UL, g.G[Gpr.R9]);  // 0x42 after 0x41's EOI
    }

    [Fact]
    public void Tpr_masks_classes_at_or_below_it_and_lowering_it_releases_them()
    {
        using var g = new PagedGuest(a =>
        {
            a.mov(ecx, TprMsr);
            a.mov(eax, 0x40);
            a.xor(edx, edx);
            a.wrmsr();
            a.sti();
            a.nop();
            a.nop();
            a.mov(r12, r15);   // delivered so far with TPR = 0x40
            a.mov(ecx, PprMsr);
            a.rdmsr();
            a.mov(r13, rax);
            a.mov(ecx, TprMsr);
            a.xor(eax, eax);
            a.wrmsr();
            a.nop();
            a.nop();
        });
        g.LoadIdt();
        Counting(g, 0x45, 0, r8);
        Counting(g, 0x55, 1, r9);
        g.G.Cpu.PostInterrupt(0x45);
        g.G.Cpu.PostInterrupt(0x55);
        g.G.RunToHlt();
        Assert.Equal(1UL, g.G[Gpr.R12]);    // only 0x55 got through TPR 0x40
        Assert.Equal(1UL, g.G[Gpr.R9]);
        Assert.Equal(0x40UL, g.G[Gpr.R13]); // PPR = TPR
        Assert.Equal(2UL, g.G[Gpr.R8]);     // 0x45 once TPR dropped
    }

    [Fact]
    public void Apic_registers_the_cpu_virtualizes_do_not_exit_and_the_others_do()
    {
        using var g = new PagedGuest(a =>
        {
            a.mov(ecx, PprMsr);
            a.rdmsr();
            a.mov(ecx, 0x830); // ICR: the VMM's
            a.rdmsr();
        });
        CpuExit e = g.Run();
        Assert.Equal(CpuExitKind.VirtualizationException, e.Kind);
        Assert.Equal(VeExitReason.MsrRead, e.Ve.ExitReason);
        Assert.Equal(0x830UL, g.G[Gpr.Rcx]);
    }

    [Fact]
    public void Nonzero_eoi_write_is_a_general_protection_fault()
    {
        using var g = new PagedGuest(a =>
        {
            a.mov(ecx, EoiMsr);
            a.mov(eax, 1);
            a.xor(edx, edx);
            a.wrmsr();
        });
        CpuExit e = g.Run();
        Assert.Equal(CpuExitKind.Exception, e.Kind);
        Assert.Equal(CpuExit.GeneralProtection, e.Vector);
    }

    [Fact]
    public void Tsc_advances_with_instructions_and_by_advance()
    {
        using var g = new PagedGuest(a => a.nop());
        ulong t0 = g.G.Cpu.Tsc;
        g.G.Cpu.AdvanceTscTo(t0 + 1000);
        Assert.Equal(t0 + 1000, g.G.Cpu.Tsc);
        g.G.Cpu.AdvanceTscTo(5); // never back
        Assert.Equal(t0 + 1000, g.G.Cpu.Tsc);
        g.G.RunToHlt();
        Assert.Equal(t0 + 1001, g.G.Cpu.Tsc);
    }
}
