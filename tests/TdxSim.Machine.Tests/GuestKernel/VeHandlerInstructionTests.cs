using TdxSim.Abi;
using TdxSim.Cpu;
using TdxSim.Guest.Kernel;

namespace TdxSim.Machine.Tests.GuestKernel;

/// <summary>HLT, RDMSR, WRMSR and CPUID #VEs: the TDVMCALL each becomes and what the guest sees afterwards.</summary>
public sealed class VeHandlerInstructionTests
{
    private const ulong Rip = KernelBench.CodeGpa;

    [Fact]
    public void Hlt_WithInterruptsDisabled_AsksTheVmmToHaltWithR12One_ThenSkipsTheInstruction()
    {
        using var bench = new KernelBench();

        KernelStep step = bench.Deliver(new VeInfo(VeExitReason.Hlt, 0, 0, 0, 1, 0));
        bench.AssertVmcall(step, TdVmcallSubfunction.InstructionHlt, r12: 1);

        bench.AssertResumed(bench.CompleteVmcall(), Rip, 1);
    }

    [Fact]
    public void Hlt_WithInterruptsEnabled_IsRefusedWithoutAskingTheVmm()
    {
        using var bench = new KernelBench();
        bench.Cpu.Rflags |= Rflags.If;

        KernelStep step = bench.Deliver(new VeInfo(VeExitReason.Hlt, 0, 0, 0, 1, 0));

        bench.AssertFatal(step, "HLT emulation with IRQs enabled", Rip);
    }

    [Fact]
    public void Hlt_TheVmmFails_IsFatal()
    {
        using var bench = new KernelBench();
        bench.Deliver(new VeInfo(VeExitReason.Hlt, 0, 0, 0, 1, 0));

        bench.AssertFatal(bench.CompleteVmcall(r10: TdVmcall.InvalidOperand), "TDVMCALL<Instruction.HLT> failed: TDG.VP.VMCALL_INVALID_OPERAND", Rip);
    }

    [Fact]
    public void Rdmsr_SendsEcxOnly_AndSplitsR11IntoEaxAndEdx()
    {
        using var bench = new KernelBench();
        bench.Cpu.Gpr[Gpr.Rcx] = 0xFFFF_FFFF_0000_080F;
        bench.Cpu.Gpr[Gpr.Rax] = ulong.MaxValue;
        bench.Cpu.Gpr[Gpr.Rdx] = ulong.MaxValue;

        KernelStep step = bench.Deliver(new VeInfo(VeExitReason.MsrRead, 0, 0, 0, 2, 0));
        bench.AssertVmcall(step, TdVmcallSubfunction.InstructionRdmsr, r12: 0x80F);
        bench.AssertResumed(bench.CompleteVmcall(r11: 0x1234_5678_9ABC_DEF0), Rip, 2);

        Assert.Equal(0x9ABC_DEF0UL, bench.Cpu.Gpr[Gpr.Rax]);
        Assert.Equal(0x1234_5678UL, bench.Cpu.Gpr[Gpr.Rdx]);
    }

    [Fact]
    public void Rdmsr_TheVmmRefuses_IsFatalAndLeavesRaxAndRdx()
    {
        using var bench = new KernelBench();
        bench.Cpu.Gpr[Gpr.Rcx] = 0x1FC;
        bench.Cpu.Gpr[Gpr.Rax] = 7;
        bench.Cpu.Gpr[Gpr.Rdx] = 8;
        bench.Deliver(new VeInfo(VeExitReason.MsrRead, 0, 0, 0, 2, 0));

        bench.AssertFatal(bench.CompleteVmcall(r10: TdVmcall.InvalidOperand, r11: 0xBAD), "RDMSR 0x1fc failed: TDG.VP.VMCALL_INVALID_OPERAND", Rip);
        Assert.Equal(7UL, bench.Cpu.Gpr[Gpr.Rax]);
        Assert.Equal(8UL, bench.Cpu.Gpr[Gpr.Rdx]);
    }

    [Fact]
    public void Wrmsr_SendsEcxAndEdxColonEaxFromTheLowHalves()
    {
        using var bench = new KernelBench();
        bench.Cpu.Gpr[Gpr.Rcx] = 0xDEAD_0000_0000_0830;
        bench.Cpu.Gpr[Gpr.Rax] = 0xFFFF_FFFF_0000_0004;
        bench.Cpu.Gpr[Gpr.Rdx] = 0xFFFF_FFFF_0000_0001;

        KernelStep step = bench.Deliver(new VeInfo(VeExitReason.MsrWrite, 0, 0, 0, 2, 0));
        bench.AssertVmcall(step, TdVmcallSubfunction.InstructionWrmsr, r12: 0x830, r13: 0x1_0000_0004);
        bench.AssertResumed(bench.CompleteVmcall(), Rip, 2);
        Assert.Equal(0xFFFF_FFFF_0000_0004UL, bench.Cpu.Gpr[Gpr.Rax]);
    }

    [Fact]
    public void Wrmsr_TheVmmRefuses_IsFatal()
    {
        using var bench = new KernelBench();
        bench.Cpu.Gpr[Gpr.Rcx] = 0x1A0;
        bench.Deliver(new VeInfo(VeExitReason.MsrWrite, 0, 0, 0, 2, 0));

        bench.AssertFatal(bench.CompleteVmcall(r10: TdVmcall.InvalidOperand), "WRMSR 0x1a0 failed", Rip);
    }

    [Theory]
    [InlineData(0x4000_0000u)]
    [InlineData(0x4FFF_FFFFu)]
    public void Cpuid_HypervisorRange_AsksTheVmmAndZeroExtendsItsFourAnswers(uint leaf)
    {
        using var bench = new KernelBench();
        bench.Cpu.Gpr[Gpr.Rax] = 0xFFFF_FFFF_0000_0000 | leaf;
        bench.Cpu.Gpr[Gpr.Rcx] = 0xFFFF_FFFF_0000_0003;

        KernelStep step = bench.Deliver(new VeInfo(VeExitReason.Cpuid, 0, 0, 0, 2, 0));
        bench.AssertVmcall(step, TdVmcallSubfunction.InstructionCpuid, r12: leaf, r13: 3);
        bench.AssertResumed(bench.CompleteVmcall(r12: 0xAAAA_AAAA_0000_0001, r13: 0x2, r14: 0x3, r15: 0xFFFF_FFFF_0000_0004), Rip, 2);

        Assert.Equal(1UL, bench.Cpu.Gpr[Gpr.Rax]);
        Assert.Equal(2UL, bench.Cpu.Gpr[Gpr.Rbx]);
        Assert.Equal(3UL, bench.Cpu.Gpr[Gpr.Rcx]);
        Assert.Equal(4UL, bench.Cpu.Gpr[Gpr.Rdx]);
    }

    [Theory]
    [InlineData(0x3FFF_FFFFu)]
    [InlineData(0x5000_0000u)]
    [InlineData(0x4u)]
    public void Cpuid_OutsideTheHypervisorRange_ReadsZerosWithoutAskingTheVmm(uint leaf)
    {
        using var bench = new KernelBench();
        bench.Cpu.Gpr[Gpr.Rax] = leaf;
        bench.Cpu.Gpr[Gpr.Rbx] = ulong.MaxValue;
        bench.Cpu.Gpr[Gpr.Rcx] = ulong.MaxValue;
        bench.Cpu.Gpr[Gpr.Rdx] = ulong.MaxValue;

        KernelStep step = bench.Deliver(new VeInfo(VeExitReason.Cpuid, 0, 0, 0, 2, 0));

        bench.AssertResumed(step, Rip, 2);
        Assert.Equal(0UL, bench.Cpu.Gpr[Gpr.Rax] | bench.Cpu.Gpr[Gpr.Rbx] | bench.Cpu.Gpr[Gpr.Rcx] | bench.Cpu.Gpr[Gpr.Rdx]);
    }

    [Fact]
    public void Cpuid_TheVmmFails_IsFatalAndLeavesTheRegisters()
    {
        using var bench = new KernelBench();
        bench.Cpu.Gpr[Gpr.Rax] = 0x4000_0000;
        bench.Deliver(new VeInfo(VeExitReason.Cpuid, 0, 0, 0, 2, 0));

        bench.AssertFatal(bench.CompleteVmcall(r10: TdVmcall.InvalidOperand, r12: 9), "CPUID 0x40000000 failed", Rip);
        Assert.Equal(0x4000_0000UL, bench.Cpu.Gpr[Gpr.Rax]);
    }

    [Fact]
    public void InstructionLengthFromVeInfo_IsHowFarRipMoves()
    {
        using var bench = new KernelBench();
        bench.Cpu.Gpr[Gpr.Rcx] = 0x80F;
        bench.Deliver(new VeInfo(VeExitReason.MsrRead, 0, 0, 0, 7, 0));

        bench.AssertResumed(bench.CompleteVmcall(), Rip, 7);
    }
}
