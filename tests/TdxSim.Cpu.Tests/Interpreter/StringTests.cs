using System.Text;
using TdxSim.Abi;
using static Iced.Intel.AssemblerRegisters;

namespace TdxSim.Cpu.Tests.Interpreter;

/// <summary>MOVS, STOS, LODS, CMPS, SCAS with REP/REPE/REPNE, both directions.</summary>
public sealed class StringTests
{
    private const ulong Src = Guest.DataBase;
    private const ulong Dst = Guest.DataBase + 0x2000;

    [Fact]
    public void RepMovsb_CopiesAcrossPages_UpdatesRegisters()
    {
        byte[] data = Enumerable.Range(0, 5000).Select(static i => (byte)(i * 7)).ToArray();
        using Guest g = Guest.RunProgram(
            a => a.rep.movsb(),
            s =>
            {
                s.Write(Src, data);
                s[Gpr.Rsi] = Src;
                s[Gpr.Rdi] = Dst;
                s[Gpr.Rcx] = (ulong)data.Length;
            });
        Assert.Equal(data, g.Read(Dst, data.Length));
        Assert.Equal(0UL, g[Gpr.Rcx]);
        Assert.Equal(Src + 5000, g[Gpr.Rsi]);
        Assert.Equal(Dst + 5000, g[Gpr.Rdi]);
        Assert.Equal(1UL, g.State.InstructionsRetired - 0);
    }

    [Fact]
    public void RepMovsb_OverlappingForward_ReplicatesLikeHardware()
    {
        using Guest g = Guest.RunProgram(
            a => a.rep.movsb(),
            s =>
            {
                s.Write(Src, "ab"u8);
                s[Gpr.Rsi] = Src;
                s[Gpr.Rdi] = Src + 1;
                s[Gpr.Rcx] = 6;
            });
        Assert.Equal("aaaaaaa", Encoding.ASCII.GetString(g.Read(Src, 7)));
    }

    [Fact]
    public void RepStosq_Fills_AndStdMovesBackwards()
    {
        using Guest g = Guest.RunProgram(
            a =>
            {
                a.rep.stosq();
                a.std();
                a.mov(rdi, Dst + 0x100);
                a.mov(ecx, 2);
                a.mov(eax, 0x77);
                a.rep.stosb();
                a.cld();
            },
            s =>
            {
                s[Gpr.Rax] = 0x1122334455667788;
                s[Gpr.Rdi] = Dst;
                s[Gpr.Rcx] = 3;
            });
        for (int k = 0; k < 3; k++)
        {
            Assert.Equal(0x1122334455667788UL, g.Read64(Dst + (ulong)(k * 8)));
        }

        Assert.Equal(new byte[] { 0x77, 0x77 }, g.Read(Dst + 0xFF, 2));
        Assert.Equal(Dst + 0xFE, g[Gpr.Rdi]);
    }

    [Fact]
    public void Lodsd_LoadsAndAdvances()
    {
        using Guest g = Guest.RunProgram(
            a =>
            {
                a.lodsd();
                a.mov(ebx, eax);
                a.lodsw();
            },
            s =>
            {
                s.Write(Src, [1, 0, 0, 0x80, 0x34, 0x12]);
                s[Gpr.Rsi] = Src;
                s[Gpr.Rax] = ulong.MaxValue;
            });
        Assert.Equal(0x80000001UL, g[Gpr.Rbx]);
        Assert.Equal(0x80001234UL, g[Gpr.Rax]);
        Assert.Equal(Src + 6, g[Gpr.Rsi]);
    }

    [Fact]
    public void RepeCmpsb_StopsAtFirstDifference()
    {
        using Guest g = Guest.RunProgram(
            a => a.repe.cmpsb(),
            s =>
            {
                s.Write(Src, "hello world"u8);
                s.Write(Dst, "hello there"u8);
                s[Gpr.Rsi] = Src;
                s[Gpr.Rdi] = Dst;
                s[Gpr.Rcx] = 11;
            });
        Assert.Equal(11UL - 7, g[Gpr.Rcx]);
        Assert.Equal(Src + 7, g[Gpr.Rsi]);
        Assert.Equal(0UL, g.Rflags & Rflags.Zf);
        Assert.Equal(0UL, g.Rflags & Rflags.Cf); // 'w' (0x77) - 't' (0x74): no borrow
    }

    [Fact]
    public void RepneScasb_FindsTerminator()
    {
        using Guest g = Guest.RunProgram(
            a => a.repne.scasb(),
            s =>
            {
                s.Write(Src, "abc\0def"u8);
                s[Gpr.Rdi] = Src;
                s[Gpr.Rcx] = ulong.MaxValue;
                s[Gpr.Rax] = 0;
            });
        Assert.Equal(Src + 4, g[Gpr.Rdi]);
        Assert.Equal(ulong.MaxValue - 4, g[Gpr.Rcx]);
        Assert.Equal(Rflags.Zf, g.Rflags & Rflags.Zf);
    }

    [Fact]
    public void RepWithZeroCount_DoesNothing()
    {
        using Guest g = Guest.RunProgram(
            a =>
            {
                a.stc();
                a.repe.cmpsq();
                a.rep.movsq();
            },
            s =>
            {
                s[Gpr.Rsi] = Src;
                s[Gpr.Rdi] = Dst;
                s[Gpr.Rcx] = 0;
            });
        Assert.Equal(Src, g[Gpr.Rsi]);
        Assert.Equal(Rflags.Cf, g.Rflags & Rflags.Cf);
    }

    [Fact]
    public void LongRep_YieldsAndResumes_CountsOneInstruction()
    {
        using var g = new Guest(
            a =>
            {
                a.rep.stosb();
                a.hlt();
            },
            options: new CpuOptions { RepChunk = 100 });
        g[Gpr.Rdi] = Dst;
        g[Gpr.Rcx] = 1000;
        g[Gpr.Rax] = 0xEE;
        g.RunToHlt();
        Assert.All(g.Read(Dst, 1000), static b => Assert.Equal(0xEE, b));
        Assert.Equal(1UL, g.State.InstructionsRetired);
    }

    [Fact]
    public void RepMovs_FaultMidway_LeavesRestartableState()
    {
        using var g = new Guest(
            a =>
            {
                a.rep.movsb();
                a.hlt();
            },
            memorySize: 0x20000,
            acceptAll: false);
        Assert.Equal(TdxSim.Memory.AcceptResult.Success, g.Memory.Accept(Src, 0));
        Assert.Equal(TdxSim.Memory.AcceptResult.Success, g.Memory.Accept(0xF000, 0));
        g[Gpr.Rsi] = Src;
        g[Gpr.Rdi] = 0xFFF0;     // 16 bytes fit, then the pending page 0x10000
        g[Gpr.Rcx] = 32;
        CpuExit exit = g.Run();
        Assert.Equal(CpuExitKind.VirtualizationException, exit.Kind);
        Assert.Equal(0x10000UL, exit.Ve.Gpa);
        Assert.Equal(16UL, g[Gpr.Rcx]);
        Assert.Equal(0x10000UL, g[Gpr.Rdi]);
        Assert.Equal(Guest.CodeBase, g.State.Rip);
        Assert.Equal(TdxSim.Memory.AcceptResult.Success, g.Memory.Accept(0x10000, 0));
        g.RunToHlt();
        Assert.Equal(0UL, g[Gpr.Rcx]);
    }
}
