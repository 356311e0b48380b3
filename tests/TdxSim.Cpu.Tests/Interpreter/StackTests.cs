using TdxSim.Abi;
using static Iced.Intel.AssemblerRegisters;

namespace TdxSim.Cpu.Tests.Interpreter;

/// <summary>PUSH, POP in their forms, PUSHF/POPF, LEAVE, ENTER.</summary>
public sealed class StackTests
{
    [Fact]
    public void PushPop_RegistersImmediatesMemory()
    {
        using var g = new Guest(a =>
        {
            a.push(rax);
            a.push(-2);
            a.mov(rsi, Guest.DataBase);
            a.mov(__qword_ptr[rsi], 0x1234);
            a.push(__qword_ptr[rsi]);
            a.pop(__qword_ptr[rsi + 8]);
            a.pop(rbx);
            a.pop(r12);
            a.push(cx);
            a.pop(dx);
            a.hlt();
        });
        ulong sp = g[Gpr.Rsp];
        g[Gpr.Rax] = 0xAAAA;
        g[Gpr.Rcx] = 0xBEEF;
        g.RunToHlt();
        Assert.Equal(0x1234UL, g.Read64(Guest.DataBase + 8));
        Assert.Equal(unchecked((ulong)-2L), g[Gpr.Rbx]);
        Assert.Equal(0xAAAAUL, g[Gpr.R12]);
        Assert.Equal(0xBEEFUL, g[Gpr.Rdx]);
        Assert.Equal(sp, g[Gpr.Rsp]);
    }

    [Fact]
    public void PopRsp_LoadsTheValue_PushRsp_PushesOldValue()
    {
        using Guest g = Guest.RunProgram(a =>
        {
            a.mov(rbx, rsp);
            a.push(rsp);
            a.pop(rax);
            a.push(0x5000);
            a.pop(rsp);
        });
        Assert.Equal(g[Gpr.Rbx], g[Gpr.Rax]);
        Assert.Equal(0x5000UL, g[Gpr.Rsp]);
    }

    [Fact]
    public void PushfPopf_RoundTripFlags_PopfCanSetIfAndDf()
    {
        using Guest g = Guest.RunProgram(a =>
        {
            a.stc();
            a.pushfq();
            a.pop(rax);
            a.push(0x0000_0000_0020_0CD5 | 0x200);
            a.popfq();
            a.pushfq();
            a.pop(rbx);
        });
        Assert.Equal(0x3UL, g[Gpr.Rax]);
        Assert.Equal(0x0020_0ED7UL, g[Gpr.Rbx]);
        Assert.Equal(Rflags.If, g.Rflags & Rflags.If);
        Assert.Equal(Rflags.Df, g.Rflags & Rflags.Df);
    }

    [Fact]
    public void EnterLeave_BuildAndTearDownFrame()
    {
        using var g = new Guest(a =>
        {
            a.enter(32, 0);
            a.mov(rbx, rbp);
            a.mov(rcx, rsp);
            a.leave();
            a.hlt();
        });
        ulong sp = g[Gpr.Rsp];
        g[Gpr.Rbp] = 0x1111;
        g.RunToHlt();
        Assert.Equal(sp - 8, g[Gpr.Rbx]);
        Assert.Equal(sp - 8 - 32, g[Gpr.Rcx]);
        Assert.Equal(0x1111UL, g[Gpr.Rbp]);
        Assert.Equal(sp, g[Gpr.Rsp]);
    }
}
