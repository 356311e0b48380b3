using TdxSim.Abi;
using static Iced.Intel.AssemblerRegisters;

namespace TdxSim.Cpu.Tests.Interpreter;

/// <summary>IN/OUT/INS/OUTS, CPUID, RDMSR, WRMSR, HLT, TDCALL exits; RDTSC; NOPs, fences, PAUSE.</summary>
public sealed class IoAndSystemTests
{
    [Fact]
    public void OutDx_ExitsWithIoQualification_NoStateChange()
    {
        using var g = new Guest(a =>
        {
            a.mov(dx, 0x3F8);
            a.mov(al, 0x41);
            a.@out(dx, al);
            a.hlt();
        });
        CpuExit exit = g.Run();
        Assert.Equal(CpuExitKind.VirtualizationException, exit.Kind);
        Assert.Equal(VeExitReason.IoInstruction, exit.Ve.ExitReason);
        Assert.Equal(IoQualification.Encode(1, false, 0x3F8), exit.Ve.ExitQualification);
        Assert.Equal(1U, exit.Ve.InstructionLength);
        Assert.Equal(Guest.CodeBase + 6, exit.Rip);
        Assert.Equal(exit.Rip, g.State.Rip);
        Assert.Equal(2UL, g.State.InstructionsRetired);
    }

    [Fact]
    public void InImmediate_AndStringForms_EncodeSizeDirectionRep()
    {
        using var g = new Guest(a =>
        {
            a.@in(eax, 0x71);
            a.rep.insw();
            a.outsb();
            a.hlt();
        });
        CpuExit exit = g.Run();
        Assert.Equal(IoQualification.Encode(4, true, 0x71, immediate: true), exit.Ve.ExitQualification);
        Assert.Equal(2U, exit.Ve.InstructionLength);
        g.State.Rip += 2;
        g[Gpr.Rdx] = 0x1F0;
        exit = g.Run();
        Assert.Equal(IoQualification.Encode(2, true, 0x1F0, isString: true, rep: true), exit.Ve.ExitQualification);
        g.State.Rip += exit.Ve.InstructionLength;
        exit = g.Run();
        Assert.Equal(IoQualification.Encode(1, false, 0x1F0, isString: true), exit.Ve.ExitQualification);
    }

    [Theory]
    [InlineData(0, VeExitReason.Cpuid, 2U)]
    [InlineData(1, VeExitReason.MsrRead, 2U)]
    [InlineData(2, VeExitReason.MsrWrite, 2U)]
    [InlineData(3, VeExitReason.Hlt, 1U)]
    public void TdExitInstructions_RaiseVe(int which, VeExitReason reason, uint length)
    {
        using var g = new Guest(a =>
        {
            switch (which)
            {
                case 0: a.cpuid(); break;
                case 1: a.rdmsr(); break;
                case 2: a.wrmsr(); break;
                default: a.hlt(); break;
            }
        });
        CpuExit exit = g.Run();
        Assert.Equal(CpuExitKind.VirtualizationException, exit.Kind);
        Assert.Equal(reason, exit.Ve.ExitReason);
        Assert.Equal(length, exit.Ve.InstructionLength);
        Assert.Equal(Guest.CodeBase, exit.Rip);
        Assert.Equal(0UL, g.State.InstructionsRetired);
    }

    [Fact]
    public void Tdcall_ExitsAtTheInstruction_CallerAdvances()
    {
        using var g = new Guest(a =>
        {
            a.mov(eax, 1);
            a.tdcall();
            a.mov(ebx, 2);
            a.hlt();
        });
        CpuExit exit = g.Run();
        Assert.Equal(CpuExitKind.Tdcall, exit.Kind);
        Assert.Equal(Guest.CodeBase + 5, exit.Rip);
        Assert.Equal(new byte[] { 0x66, 0x0F, 0x01, 0xCC }, g.Read(exit.Rip, 4));
        g.State.Rip += 4;
        g.RunToHlt();
        Assert.Equal(2UL, g[Gpr.Rbx]);
    }

    [Fact]
    public void Rdtsc_DerivedFromRetiredInstructions()
    {
        using var g = new Guest(
            a =>
            {
                a.nop();
                a.nop();
                a.rdtsc();
                a.hlt();
            },
            options: new CpuOptions { TscPerInstruction = 10, TscOffset = 0x1_0000_0000 });
        g[Gpr.Rdx] = ulong.MaxValue;
        g.RunToHlt();
        Assert.Equal(20UL, g[Gpr.Rax]);
        Assert.Equal(1UL, g[Gpr.Rdx]);
    }

    [Fact]
    public void RdmsrOfTheTsc_ExecutesLikeRdtscWithoutAnExit_OtherMsrsStillExit()
    {
        using var g = new Guest(
            a =>
            {
                a.nop();
                a.mov(ecx, 0x10);
                a.rdmsr();
                a.mov(ebx, eax);
                a.mov(ecx, 0x1B);
                a.rdmsr();
            },
            options: new CpuOptions { TscPerInstruction = 10, TscOffset = 0x1_0000_0000 });
        g[Gpr.Rdx] = ulong.MaxValue;
        CpuExit exit = g.Run();
        Assert.Equal(CpuExitKind.VirtualizationException, exit.Kind);
        Assert.Equal(VeExitReason.MsrRead, exit.Ve.ExitReason);
        Assert.Equal(Guest.CodeBase + 15, exit.Rip); // NOP, MOV ECX (5), RDMSR (2), MOV EBX (2), MOV ECX (5)
        Assert.Equal(20UL, g[Gpr.Rbx]);
        Assert.Equal(1UL, g[Gpr.Rdx]);
        Assert.Equal(5UL, g.State.InstructionsRetired);
    }

    [Fact]
    public void NopFormsFencesPause_DoNothing()
    {
        using Guest g = Guest.RunProgram(a =>
        {
            a.nop();
            a.nop(__dword_ptr[rax + rax * 1 + 0]);
            a.nop(__word_ptr[rax + rax * 1 + 0x100]);
            a.pause();
            a.mfence();
            a.lfence();
            a.sfence();
            a.mov(ebx, 7);
        });
        Assert.Equal(7UL, g[Gpr.Rbx]);
        Assert.Equal(8UL, g.State.InstructionsRetired);
    }

    [Fact]
    public void Ud2_AndUnsupported_RaiseUdNamingTheInstruction()
    {
        using var g = new Guest(a =>
        {
            a.ud2();
        });
        CpuExit exit = g.Run();
        Assert.Equal(CpuExitKind.Exception, exit.Kind);
        Assert.Equal(CpuExit.InvalidOpcode, exit.Vector);
        Assert.Contains("ud2", exit.Detail, StringComparison.Ordinal);

        using var v = new Guest(a => a.vaddps(ymm0, ymm1, ymm2));
        exit = v.Run();
        Assert.Equal(CpuExit.InvalidOpcode, exit.Vector);
        Assert.Equal("#UD: unsupported instruction 'vaddps ymm0,ymm1,ymm2' (c5 f4 58 c2)", exit.Detail);
        Assert.Equal(Guest.CodeBase, exit.Rip);
    }
}
