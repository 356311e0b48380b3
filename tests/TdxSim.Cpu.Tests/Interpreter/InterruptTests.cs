using TdxSim.Abi;
using static Iced.Intel.AssemblerRegisters;

namespace TdxSim.Cpu.Tests.Interpreter;

/// <summary>Exceptions through the guest's 64-bit IDT, IST, IRETQ, #DF and triple fault, injection (issue 11 part 2),
/// and the system state a kernel sets up (part 3).</summary>
public sealed class InterruptTests
{
    private const ulong P = 1, W = 2;

    [Fact]
    public void Page_fault_is_delivered_with_error_code_cr2_and_frame()
    {
        using var g = new PagedGuest(a =>
        {
            a.mov(rax, PagedGuest.High + 0x3008);
            a.mov(__qword_ptr[rax], 1);
        });
        g.LoadIdt();
        g.Handler(14, PagedGuest.Handlers, a =>
        {
            a.mov(r8, __qword_ptr[rsp]);        // error code
            a.mov(r9, __qword_ptr[rsp + 8]);    // RIP
            a.mov(r10, __qword_ptr[rsp + 16]);  // CS
            a.mov(r11, __qword_ptr[rsp + 24]);  // RFLAGS
            a.mov(r12, __qword_ptr[rsp + 32]);  // RSP
            a.mov(r13, cr2);
            a.pushfq();
            a.pop(r14);
            a.hlt();
        });
        g.State.Rflags |= Rflags.If;
        g.G.RunToHlt();
        Assert.Equal(2UL, g.G[Gpr.R8]);
        Assert.Equal(Guest.CodeBase + 10, g.G[Gpr.R9]); // the faulting MOV (after the 10-byte MOV RAX, imm64)
        Assert.Equal(0x10UL, g.G[Gpr.R10]);
        Assert.Equal(Rflags.If, g.G[Gpr.R11] & Rflags.If);
        Assert.Equal(PagedGuest.Stack, g.G[Gpr.R12]);
        Assert.Equal(PagedGuest.High + 0x3008, g.G[Gpr.R13]);
        Assert.Equal(0UL, g.G[Gpr.R14] & Rflags.If); // an interrupt gate clears IF
        Assert.Equal(1UL, g.State.InterruptsDelivered);
    }

    [Fact]
    public void Iretq_returns_from_a_ud2_handler_that_skips_the_instruction()
    {
        using var g = new PagedGuest(a =>
        {
            a.sti();
            a.ud2();
            a.mov(ebx, 5);
            a.pushfq();
            a.pop(r14);
        });
        g.LoadIdt();
        g.Handler(6, PagedGuest.Handlers, a =>
        {
            a.add(__qword_ptr[rsp], 2);
            a.iretq();
        });
        g.G.RunToHlt();
        Assert.Equal(5UL, g.G[Gpr.Rbx]);
        Assert.Equal(Rflags.If, g.G[Gpr.R14] & Rflags.If); // restored by IRETQ
        Assert.Equal(PagedGuest.Stack, g.G[Gpr.Rsp]);
    }

    [Fact]
    public void Ist_stack_comes_from_the_tss_and_is_aligned()
    {
        using var g = new PagedGuest(a =>
        {
            a.mov(ax, 0x20);
            a.ltr(ax);
            a.str(bx);
            a.int3();
        });
        g.LoadIdt();
        g.G.Write64(PagedGuest.Tss + 0x24, 0x20_0008); // IST1, misaligned by 8
        g.Handler(3, PagedGuest.Handlers, a =>
        {
            a.mov(r8, rsp);
            a.mov(r9, __qword_ptr[rsp]);       // RIP: after INT3
            a.hlt();
        }, ist: 1);
        g.G.RunToHlt();
        Assert.Equal(0x20UL, g.G[Gpr.Rbx] & 0xFFFF);
        Assert.Equal(0x20_0000UL - 40, g.G[Gpr.R8]);
        Assert.Equal(Guest.CodeBase + 4 + 4 + 4 + 1, g.G[Gpr.R9]);
        Assert.Equal(0x8BUL, (g.G.Read64(PagedGuest.Gdt + 0x20) >> 40) & 0xFF); // LTR marked the TSS busy
    }

    [Fact]
    public void Fault_while_delivering_a_page_fault_becomes_double_fault()
    {
        using var g = new PagedGuest(a =>
        {
            a.mov(rax, PagedGuest.High + 0x3000);
            a.mov(rbx, __qword_ptr[rax]);
        });
        g.LoadIdt();
        g.Gate(14, PagedGuest.Handlers, present: false); // #PF gate not present: #NP, contributory after #PF: #DF
        g.Handler(8, PagedGuest.Handlers + 0x100, a =>
        {
            a.mov(r8, __qword_ptr[rsp]);
            a.hlt();
        });
        g.G.RunToHlt();
        Assert.Equal(0UL, g.G[Gpr.R8]);
    }

    [Fact]
    public void Fault_while_delivering_double_fault_is_a_triple_fault()
    {
        using var g = new PagedGuest(a =>
        {
            a.mov(rax, PagedGuest.High + 0x3000);
            a.mov(rbx, __qword_ptr[rax]);
        });
        g.LoadIdt();
        CpuExit e = g.Run();
        Assert.Equal(CpuExitKind.Exception, e.Kind);
        Assert.Contains("triple fault", e.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public void Injected_ve_goes_to_vector_20_at_the_current_rip()
    {
        using var g = new PagedGuest(a => a.nop());
        g.LoadIdt();
        g.Handler(20, PagedGuest.Handlers, a =>
        {
            a.mov(r9, __qword_ptr[rsp]);
            a.hlt();
        });
        Assert.True(g.G.Cpu.HasGuestIdt);
        Assert.Null(g.G.Cpu.Inject(CpuExit.VirtualizationExceptionVector));
        g.G.RunToHlt();
        Assert.Equal(Guest.CodeBase, g.G[Gpr.R9]);
    }

    [Fact]
    public void Without_guest_system_faults_exit_and_msrs_go_to_the_module()
    {
        using var g = new Guest(a => a.ud2());
        CpuExit e = g.Run();
        Assert.Equal(CpuExit.InvalidOpcode, e.Vector);
        Assert.False(g.Cpu.HasGuestIdt);
    }

    [Fact]
    public void System_msrs_swapgs_and_xsave_state_are_native()
    {
        using var g = new PagedGuest(a =>
        {
            a.mov(ecx, 0xC000_0101);                 // GS_BASE
            a.mov(eax, 0x1000);
            a.mov(edx, 0xFFFF_8000);
            a.wrmsr();
            a.mov(ecx, 0xC000_0102);                 // KERNEL_GS_BASE
            a.mov(eax, 0x2000);
            a.xor(edx, edx);
            a.wrmsr();
            a.swapgs();
            a.mov(ecx, 0xC000_0101);
            a.rdmsr();
            a.mov(r8d, eax);
            a.mov(ecx, 0xC000_0103);                 // TSC_AUX
            a.mov(eax, 7);
            a.xor(edx, edx);
            a.wrmsr();
            a.rdtscp();
            a.mov(r9, rcx);
            a.mov(rax, cr4);
            a.or(rax, (1 << 18) | (1 << 9));         // OSXSAVE, OSFXSR
            a.mov(cr4, rax);
            a.xor(ecx, ecx);
            a.mov(eax, 3);
            a.xor(edx, edx);
            a.xsetbv();
            a.xgetbv();
            a.mov(r10, rax);
            a.mov(rsi, Guest.DataBase);
            a.mov(__dword_ptr[rsi], 0x1F00);
            a.ldmxcsr(__dword_ptr[rsi]);
            a.mov(rdi, Guest.DataBase + 0x1000);
            a.mov(eax, 3);
            a.xsave(__[rdi]);
            a.rdrand(r11);
            a.setc(r12b);
            a.mov(rax, 0x55UL);
            a.mov(dr7, rax);
            a.mov(r13, dr7);
        });
        g.G.RunToHlt();
        Assert.Equal(0x2000UL, g.G[Gpr.R8]);
        Assert.Equal(0xFFFF_8000_0000_1000UL, g.State.KernelGsBase);
        Assert.Equal(7UL, g.G[Gpr.R9]);
        Assert.Equal(3UL, g.G[Gpr.R10]);
        Assert.Equal(0x1F00u, g.G.Read32(Guest.DataBase + 0x1000 + 24)); // MXCSR in the legacy region
        Assert.Equal(3UL, g.G.Read64(Guest.DataBase + 0x1000 + 512));    // XSTATE_BV
        Assert.Equal(1UL, g.G[Gpr.R12] & 0xFF);
        Assert.Equal(0x455UL, g.G[Gpr.R13]);
    }
}
