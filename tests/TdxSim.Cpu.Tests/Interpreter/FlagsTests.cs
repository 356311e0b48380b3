using TdxSim.Abi;
using static Iced.Intel.AssemblerRegisters;

namespace TdxSim.Cpu.Tests.Interpreter;

/// <summary>CLC/STC/CMC, CLD/STD, CLI/STI, LAHF/SAHF and the reset value of RFLAGS.</summary>
public sealed class FlagsTests
{
    [Fact]
    public void Reset_RflagsIsTwo()
    {
        using var memory = new TdxSim.Memory.GuestPhysicalMemory(0x1000);
        var cpu = new Cpu(memory);
        Assert.Equal(2UL, cpu.State.Rflags);
    }

    [Fact]
    public void CarryDirectionInterrupt_SetClearComplement()
    {
        using Guest g = Guest.RunProgram(a =>
        {
            a.stc();
            a.cmc();
            a.setc(al);
            a.cmc();
            a.setc(bl);
            a.std();
            a.sti();
        });
        Assert.Equal(0UL, g[Gpr.Rax] & 0xFF);
        Assert.Equal(1UL, g[Gpr.Rbx] & 0xFF);
        Assert.Equal(Rflags.Df | Rflags.If | Rflags.Cf | 2, g.Rflags);
    }

    [Fact]
    public void Cli_ClearsIf()
    {
        using var g = new Guest(a =>
        {
            a.cli();
            a.hlt();
        });
        g.State.Rflags = 0x202;
        g.RunToHlt();
        Assert.Equal(2UL, g.Rflags);
    }

    [Fact]
    public void LahfSahf_TransferLowFlags()
    {
        using Guest g = Guest.RunProgram(
            a =>
            {
                a.xor(eax, eax);    // ZF, PF
                a.lahf();
                a.mov(ebx, eax);
                a.mov(ah, 0xD5);    // SF ZF AF PF CF
                a.sahf();
            },
            s => s[Gpr.Rax] = 0);
        Assert.Equal(0x4600UL, g[Gpr.Rbx]);
        Assert.Equal(Rflags.Sf | Rflags.Zf | Rflags.Af | Rflags.Pf | Rflags.Cf, g.Rflags & Rflags.Status);
    }
}
