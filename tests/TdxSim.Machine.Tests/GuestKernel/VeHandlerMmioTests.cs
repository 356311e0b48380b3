using Iced.Intel;
using TdxSim.Abi;
using TdxSim.Guest.Kernel;
using static Iced.Intel.AssemblerRegisters;

namespace TdxSim.Machine.Tests.GuestKernel;

/// <summary>
/// EPT-violation #VEs (reference 3.5, 4.4): MMIO emulation of the instructions Linux's insn_decode_mmio() accepts,
/// with RIP advanced by the decoded length; everything it refuses; and pending private pages accepted and retried.
/// </summary>
public sealed class VeHandlerMmioTests
{
    private const ulong Rip = KernelBench.CodeGpa;
    private const ulong Mmio = GuestPhysical.SharedBit | 0xFEB0_0010;
    private const ulong Pattern = 0x1122_3344_5566_7788;
    private const ulong Source = 0x8877_6655_4433_2211;

    public static TheoryData<string, Action<Assembler>, int, ulong> Writes => new()
    {
        { "mov [rdi],al", a => a.mov(__byte_ptr[rdi], al), 1, 0x11 },
        { "mov [rdi],ax", a => a.mov(__word_ptr[rdi], ax), 2, 0x2211 },
        { "mov [rdi],eax", a => a.mov(__dword_ptr[rdi], eax), 4, 0x4433_2211 },
        { "mov [rdi],rax", a => a.mov(__qword_ptr[rdi], rax), 8, Source },
        { "mov [rdi],ah", a => a.mov(__byte_ptr[rdi], ah), 1, 0x22 },
        { "mov [rdi+8],r9w", a => a.mov(__word_ptr[rdi + 8], r9w), 2, 0xBEEF },
        { "mov byte [rdi],0xAB", a => a.mov(__byte_ptr[rdi], 0xAB), 1, 0xAB },
        { "mov word [rdi],0xABCD", a => a.mov(__word_ptr[rdi], 0xABCD), 2, 0xABCD },
        { "mov dword [rdi],0x89ABCDEF", a => a.mov(__dword_ptr[rdi], unchecked((int)0x89AB_CDEF)), 4, 0x89AB_CDEF },
        { "mov qword [rdi],-2", a => a.mov(__qword_ptr[rdi], -2), 8, 0xFFFF_FFFF_FFFF_FFFE },
    };

    [Theory]
    [MemberData(nameof(Writes))]
    public void Write_SendsTheSizeGpaAndValue_ThenSkipsTheDecodedInstruction(string instruction, Action<Assembler> emit, int size, ulong value)
    {
        using var bench = new KernelBench();
        int length = bench.Load(emit);
        bench.Cpu.Gpr[Gpr.Rax] = Source;
        bench.Cpu.Gpr[Gpr.R9] = 0xDEAD_BEEF;
        bench.Cpu.Gpr[Gpr.Rdi] = Mmio;

        KernelStep step = bench.DeliverEptViolation(Mmio, write: true);

        bench.AssertVmcall(step, TdVmcallSubfunction.VeRequestMmio, r12: (ulong)size, r13: TdVmcall.MmioWrite, r14: Mmio, r15: value);
        bench.AssertResumed(bench.CompleteVmcall(), Rip, (ulong)length);
        Assert.True(length > 0, instruction);
        Assert.Equal(Source, bench.Cpu.Gpr[Gpr.Rax]);
    }

    public static TheoryData<string, Action<Assembler>, Gpr, int, ulong> Reads => new()
    {
        // Plain MOV: 1 and 2 bytes keep the upper bits, 4 bytes zero-extend (as the hardware MOV does).
        { "mov al,[rdi]", a => a.mov(al, __byte_ptr[rdi]), Gpr.Rax, 1, 0x1122_3344_5566_7787 },
        { "mov ax,[rdi]", a => a.mov(ax, __word_ptr[rdi]), Gpr.Rax, 2, 0x1122_3344_5566_8687 },
        { "mov eax,[rdi]", a => a.mov(eax, __dword_ptr[rdi]), Gpr.Rax, 4, 0x8485_8687 },
        { "mov rax,[rdi]", a => a.mov(rax, __qword_ptr[rdi]), Gpr.Rax, 8, 0x8081_8283_8485_8687 },
        { "mov r10d,[rdi]", a => a.mov(r10d, __dword_ptr[rdi]), Gpr.R10, 4, 0x8485_8687 },
        { "mov r9b,[rdi]", a => a.mov(r9b, __byte_ptr[rdi]), Gpr.R9, 1, 0x1122_3344_5566_7787 },

        // High-byte registers: only bits 15:8 change.
        { "mov ah,[rdi]", a => a.mov(ah, __byte_ptr[rdi]), Gpr.Rax, 1, 0x1122_3344_5566_8788 },
        { "mov bh,[rdi]", a => a.mov(bh, __byte_ptr[rdi]), Gpr.Rbx, 1, 0x1122_3344_5566_8788 },

        // MOVZX: operand-size bytes zero-filled first. With a 32-bit destination Linux fills only the low four bytes
        // and bits 63:32 keep their value, where hardware would zero them (documented in VeHandler.StoreMmioRead).
        { "movzx ax,byte [rdi]", a => a.movzx(ax, __byte_ptr[rdi]), Gpr.Rax, 1, 0x1122_3344_5566_0087 },
        { "movzx eax,byte [rdi]", a => a.movzx(eax, __byte_ptr[rdi]), Gpr.Rax, 1, 0x1122_3344_0000_0087 },
        { "movzx rax,byte [rdi]", a => a.movzx(rax, __byte_ptr[rdi]), Gpr.Rax, 1, 0x87 },
        { "movzx eax,word [rdi]", a => a.movzx(eax, __word_ptr[rdi]), Gpr.Rax, 2, 0x1122_3344_0000_8687 },
        { "movzx rax,word [rdi]", a => a.movzx(rax, __word_ptr[rdi]), Gpr.Rax, 2, 0x8687 },

        // MOVSX: operand-size bytes filled with 0xFF when the sign bit is set, the same 32-bit caveat.
        { "movsx ax,byte [rdi]", a => a.movsx(ax, __byte_ptr[rdi]), Gpr.Rax, 1, 0x1122_3344_5566_FF87 },
        { "movsx eax,byte [rdi]", a => a.movsx(eax, __byte_ptr[rdi]), Gpr.Rax, 1, 0x1122_3344_FFFF_FF87 },
        { "movsx rax,byte [rdi]", a => a.movsx(rax, __byte_ptr[rdi]), Gpr.Rax, 1, 0xFFFF_FFFF_FFFF_FF87 },
        { "movsx eax,word [rdi]", a => a.movsx(eax, __word_ptr[rdi]), Gpr.Rax, 2, 0x1122_3344_FFFF_8687 },
        { "movsx rax,word [rdi]", a => a.movsx(rax, __word_ptr[rdi]), Gpr.Rax, 2, 0xFFFF_FFFF_FFFF_8687 },
    };

    [Theory]
    [MemberData(nameof(Reads))]
    public void Read_StoresTheValueAsLinuxsHandleMmioDoes_ThenSkipsTheDecodedInstruction(string instruction, Action<Assembler> emit, Gpr destination, int size, ulong expected)
    {
        using var bench = new KernelBench();
        int length = bench.Load(emit);
        bench.Cpu.Gpr[destination] = Pattern;
        bench.Cpu.Gpr[Gpr.Rdi] = Mmio;

        KernelStep step = bench.DeliverEptViolation(Mmio);
        bench.AssertVmcall(step, TdVmcallSubfunction.VeRequestMmio, r12: (ulong)size, r13: TdVmcall.MmioRead, r14: Mmio);

        // The VMM's answer carries bits above the access size: the handler must drop them.
        ulong answer = size == 8 ? 0x8081_8283_8485_8687 : 0xAAAA_AAAA_8485_8687;
        bench.AssertResumed(bench.CompleteVmcall(r11: answer), Rip, (ulong)length);
        Assert.True(expected == bench.Cpu.Gpr[destination], $"{instruction}: expected 0x{expected:x16}, got 0x{bench.Cpu.Gpr[destination]:x16}");
    }

    [Fact]
    public void MovsxOfAPositiveValue_FillsWithZeros()
    {
        using var bench = new KernelBench();
        bench.Load(a => a.movsx(rcx, __byte_ptr[rdi]));
        bench.Cpu.Gpr[Gpr.Rcx] = ulong.MaxValue;
        bench.DeliverEptViolation(Mmio);

        bench.CompleteVmcall(r11: 0x7F);

        Assert.Equal(0x7FUL, bench.Cpu.Gpr[Gpr.Rcx]);
    }

    public static TheoryData<string, Action<Assembler>, string> Refused => new()
    {
        { "MOVSB", a => a.movsb(), "MOVS is not supported in a TDX guest" },
        { "MOVSQ", a => a.movsq(), "MOVS is not supported in a TDX guest" },
        { "MOVSXD", a => a.movsxd(rax, __dword_ptr[rdi]), "unsupported instruction" },
        { "ADD", a => a.add(__dword_ptr[rdi], eax), "unsupported instruction" },
        { "CMP", a => a.cmp(__byte_ptr[rdi], 0), "unsupported instruction" },
        { "moffs MOV load", a => a.mov(eax, __dword_ptr[Mmio]), "unsupported instruction" },
        { "moffs MOV store", a => a.mov(__qword_ptr[Mmio], rax), "unsupported instruction" },
        { "undecodable", a => a.db(0x06), "(undecodable bytes)" },
    };

    [Theory]
    [MemberData(nameof(Refused))]
    public void InstructionsInsnDecodeMmioRefuses_AreFatalWithoutAnyVmcall(string what, Action<Assembler> emit, string reason)
    {
        using var bench = new KernelBench();
        bench.Load(emit);
        bench.Cpu.Gpr[Gpr.Rdi] = Mmio;
        bench.Cpu.Gpr[Gpr.Rsi] = KernelBench.DataGpa;

        KernelStep step = bench.DeliverEptViolation(Mmio);

        Assert.True(step.Kind == KernelStepKind.Fatal, $"{what} was emulated");
        bench.AssertFatal(step, reason, Rip);
        Assert.Contains($"MMIO at 0x{Mmio:x}", step.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public void MoffsForms_AreReallyEncodedAsMoffs()
    {
        // Guard for the test above: Iced must emit A1 / 48 A3 for an absolute 64-bit address.
        byte[] load = Images.GuestProgram.Assemble(0, a => a.mov(eax, __dword_ptr[Mmio])).Code;
        byte[] store = Images.GuestProgram.Assemble(0, a => a.mov(__qword_ptr[Mmio], rax)).Code;
        Assert.Equal(0xA1, load[0]);
        Assert.Equal([0x48, 0xA3], store[..2]);
    }

    [Theory]
    [InlineData(0xFFE, 4, true)]
    [InlineData(0xFF9, 8, true)]
    [InlineData(0xFFC, 4, false)]
    [InlineData(0xFF8, 8, false)]
    public void AccessCrossingAPageBoundary_IsFatal_EndingExactlyAtTheBoundaryIsFine(ulong offset, int size, bool crosses)
    {
        using var bench = new KernelBench();
        bench.Load(a =>
        {
            if (size == 4)
            {
                a.mov(eax, __dword_ptr[rdi]);
            }
            else
            {
                a.mov(rax, __qword_ptr[rdi]);
            }
        });
        ulong gpa = GuestPhysical.SharedBit | 0xFEB0_0000 | offset;

        KernelStep step = bench.DeliverEptViolation(gpa);

        if (crosses)
        {
            bench.AssertFatal(step, $"{size}-byte access crosses a page boundary", Rip);
        }
        else
        {
            bench.AssertVmcall(step, TdVmcallSubfunction.VeRequestMmio, r12: (ulong)size, r13: TdVmcall.MmioRead, r14: gpa);
        }
    }

    [Fact]
    public void MmioRead_TheVmmFails_IsFatalAndTheRegisterKeepsItsValue()
    {
        using var bench = new KernelBench();
        bench.Load(a => a.mov(eax, __dword_ptr[rdi]));
        bench.Cpu.Gpr[Gpr.Rax] = Pattern;
        bench.DeliverEptViolation(Mmio);

        bench.AssertFatal(bench.CompleteVmcall(r10: TdVmcall.InvalidOperand, r11: 1), $"MMIO read of 4 bytes at 0x{Mmio:x} failed", Rip);
        Assert.Equal(Pattern, bench.Cpu.Gpr[Gpr.Rax]);
    }

    [Fact]
    public void MmioWrite_TheVmmFails_IsFatal()
    {
        using var bench = new KernelBench();
        bench.Load(a => a.mov(__qword_ptr[rdi], rax));
        bench.DeliverEptViolation(Mmio, write: true);

        bench.AssertFatal(bench.CompleteVmcall(r10: TdVmcall.InvalidOperand), $"MMIO write of 8 bytes at 0x{Mmio:x} failed", Rip);
    }

    [Fact]
    public void InstructionAtTheEndOfMemory_IsFetchedWithFewerThan15Bytes()
    {
        using var bench = new KernelBench();
        byte[] code = Images.GuestProgram.Assemble(0xF_FFFE, a => a.mov(__dword_ptr[rdi], eax)).Code;
        Assert.Equal(2, code.Length);
        Assert.True(bench.Memory.TryWritePrivate(0xF_FFFE, code));
        bench.Cpu.Rip = 0xF_FFFE;
        bench.Cpu.Gpr[Gpr.Rax] = 5;

        KernelStep step = bench.DeliverEptViolation(Mmio, write: true);

        bench.AssertVmcall(step, TdVmcallSubfunction.VeRequestMmio, r12: 4, r13: TdVmcall.MmioWrite, r14: Mmio, r15: 5);
        bench.AssertResumed(bench.CompleteVmcall(), 0xF_FFFE, 2);
    }

    [Fact]
    public void InstructionTheKernelCannotFetch_IsFatal()
    {
        using var bench = new KernelBench();
        bench.Cpu.Rip = 0x4000_0000;

        KernelStep step = bench.DeliverEptViolation(Mmio);

        bench.AssertFatal(step, "MMIO: cannot fetch the instruction at RIP 0x40000000", 0x4000_0000);
    }

    [Theory]
    [InlineData(0UL)]
    [InlineData(0x123UL)]
    public void PendingPrivatePage_IsAcceptedAt4KiBAndTheInstructionRetriedWithoutMovingRip(ulong offset)
    {
        using var bench = new KernelBench(acceptAll: false);
        bench.Load(a => a.mov(rax, __qword_ptr[rdi]));

        KernelStep step = bench.DeliverEptViolation(KernelBench.DataGpa + offset);

        Assert.Equal(KernelStepKind.Tdcall, step.Kind);
        Gprs expected = default;
        expected[Gpr.Rax] = (ulong)TdcallLeaf.MemPageAccept;
        expected[Gpr.Rcx] = KernelBench.DataGpa; // page address, level 0 in bits 2:0
        Assert.Equal(expected, step.Regs);
        bench.AssertResumed(bench.CompleteLeaf(TdcallLeaf.MemPageAccept, TdxStatus.Success), Rip, 0);
    }

    [Fact]
    public void PendingPrivatePage_AcceptedMeanwhileByAnotherVcpu_TheWarningStillResumes()
    {
        using var bench = new KernelBench(acceptAll: false);
        bench.Load(a => a.mov(rax, __qword_ptr[rdi]));
        bench.DeliverEptViolation(KernelBench.DataGpa);

        KernelStep step = bench.CompleteLeaf(TdcallLeaf.MemPageAccept, TdxStatus.PageAlreadyAccepted);

        bench.AssertResumed(step, Rip, 0);
    }

    [Fact]
    public void PendingPrivatePage_AcceptFails_IsFatal()
    {
        using var bench = new KernelBench(acceptAll: false);
        bench.Load(a => a.mov(rax, __qword_ptr[rdi]));
        bench.DeliverEptViolation(KernelBench.DataGpa);

        KernelStep step = bench.CompleteLeaf(TdcallLeaf.MemPageAccept, TdxStatus.WithOperand(TdxStatus.OperandInvalid, Gpr.Rcx));

        bench.AssertFatal(step, $"TDG.MEM.PAGE.ACCEPT of 0x{KernelBench.DataGpa:x} failed: TDX_OPERAND_INVALID(RCX)", Rip);
    }

    [Fact]
    public void EptViolationOnAnAcceptedPrivatePage_IsFatalAsInLinux()
    {
        using var bench = new KernelBench();

        KernelStep step = bench.DeliverEptViolation(KernelBench.DataGpa);

        bench.AssertFatal(step, $"Unexpected EPT-violation on private memory at 0x{KernelBench.DataGpa:x}", Rip);
    }

    [Fact]
    public void PendingPrivatePage_WithoutTheAcceptOption_IsFatalAsInLinux()
    {
        using var bench = new KernelBench(new GuestKernelOptions { AcceptPendingPages = false }, acceptAll: false);

        KernelStep step = bench.DeliverEptViolation(KernelBench.DataGpa);

        bench.AssertFatal(step, "Unexpected EPT-violation on private memory", Rip);
    }
}
