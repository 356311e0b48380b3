using TdxSim.Abi;
using static Iced.Intel.AssemblerRegisters;

namespace TdxSim.Cpu.Tests.Interpreter;

/// <summary>Writes into decoded code take effect: later in the same block, in other blocks, from the host, from another vCPU.</summary>
public sealed class SelfModifyingCodeTests
{
    [Fact]
    public void WriteLaterInSameBlock_TakesEffectImmediately()
    {
        // The store patches the immediate of the MOV that follows it in the same block.
        using var g = new Guest(a =>
        {
            var patched = a.CreateLabel();
            a.lea(rsi, __[patched]);
            a.mov(__dword_ptr[rsi + 1], 0x2222);
            a.Label(ref patched);
            a.mov(eax, 0x1111);
            a.hlt();
        });
        g.RunToHlt();
        Assert.Equal(0x2222UL, g[Gpr.Rax]);
    }

    [Fact]
    public void PatchedLoopBody_SeenOnNextIteration()
    {
        using var g = new Guest(a =>
        {
            var body = a.CreateLabel();
            a.mov(ecx, 3);
            a.Label(ref body);
            a.add(rbx, 1);                 // 48 83 C3 01: the immediate byte is at body + 3
            a.lea(rsi, __[body]);
            a.mov(__byte_ptr[rsi + 3], 10);
            a.dec(ecx);
            a.jnz(body);
            a.hlt();
        });
        g.RunToHlt();
        Assert.Equal(1UL + 10 + 10, g[Gpr.Rbx]);
    }

    [Fact]
    public void HostWrite_InvalidatesCachedBlock()
    {
        using var g = new Guest(a =>
        {
            a.mov(eax, 1);
            a.hlt();
        });
        g.RunToHlt();
        Assert.Equal(1UL, g[Gpr.Rax]);
        g.Write(Guest.CodeBase + 1, BitConverter.GetBytes(7));
        g.State.Rip = Guest.CodeBase;
        g.RunToHlt();
        Assert.Equal(7UL, g[Gpr.Rax]);
    }

    [Fact]
    public void OtherVcpuWrite_InvalidatesThisVcpusBlock()
    {
        using var g = new Guest(a =>
        {
            a.mov(eax, 1);
            a.hlt();
        });
        g.RunToHlt();
        var other = new Cpu(g.Memory, 1);
        other.State.Rip = 0x6000;
        Assert.True(g.Memory.TryWritePrivate(0x6000, Images.GuestProgram.Assemble(0x6000, a =>
        {
            a.mov(__dword_ptr[Guest.CodeBase + 1], 42);
            a.hlt();
        }).Code));
        Assert.Equal(VeExitReason.Hlt, other.Run(100).Ve.ExitReason);
        g.State.Rip = Guest.CodeBase;
        g.RunToHlt();
        Assert.Equal(42UL, g[Gpr.Rax]);
    }

    [Fact]
    public void InstructionStraddlingPages_WriteToSecondPage_IsSeen()
    {
        // mov rax, imm64 (10 bytes) at 0x1FFE: the immediate's last 8 bytes live in the next page.
        Images.GuestProgram p = Images.GuestProgram.Assemble(0x1FFE, a =>
        {
            a.mov(rax, 0x1111_2222_3333_4444);
            a.hlt();
        });
        using var g = new Guest(p);
        g.RunToHlt();
        Assert.Equal(0x1111_2222_3333_4444UL, g[Gpr.Rax]);
        g.Write(0x2004, [0x99]);
        g.State.Rip = 0x1FFE;
        g.RunToHlt();
        Assert.Equal(0x1111_2299_3333_4444UL, g[Gpr.Rax]);
    }

    [Fact]
    public void InvalidateDecodeCache_DropsBlocks()
    {
        using var g = new Guest(a => a.hlt());
        g.Run();
        Assert.True(g.Cpu.CachedBlockCount > 0);
        g.Cpu.InvalidateDecodeCache();
        Assert.Equal(0, g.Cpu.CachedBlockCount);
    }
}
