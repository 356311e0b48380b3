using TdxSim.Abi;
using static Iced.Intel.AssemblerRegisters;

namespace TdxSim.Cpu.Tests.Interpreter;

/// <summary>JMP, Jcc, CALL, RET, LOOP, JRCXZ: direct and indirect.</summary>
public sealed class ControlFlowTests
{
    [Fact]
    public void CountedLoop_WithJccAndDec()
    {
        using Guest g = Guest.RunProgram(a =>
        {
            var top = a.CreateLabel();
            a.mov(ecx, 1000);
            a.xor(eax, eax);
            a.Label(ref top);
            a.add(rax, rcx);
            a.dec(ecx);
            a.jnz(top);
        });
        Assert.Equal(500500UL, g[Gpr.Rax]);
        Assert.Equal(2UL + (3 * 1000), g.State.InstructionsRetired);
    }

    [Fact]
    public void SignedAndUnsignedConditions()
    {
        using Guest g = Guest.RunProgram(
            a =>
            {
                var l1 = a.CreateLabel();
                var l2 = a.CreateLabel();
                a.cmp(rax, rbx);     // -1 vs 1
                a.jl(l1);            // signed less: taken
                a.mov(r8, 1);
                a.Label(ref l1);
                a.cmp(rax, rbx);
                a.jb(l2);            // unsigned below: not taken
                a.mov(r9, 1);
                a.Label(ref l2);
            },
            s =>
            {
                s[Gpr.Rax] = ulong.MaxValue;
                s[Gpr.Rbx] = 1;
            });
        Assert.Equal(0UL, g[Gpr.R8]);
        Assert.Equal(1UL, g[Gpr.R9]);
    }

    [Fact]
    public void CallRet_DirectIndirectAndRetImm()
    {
        using var g = new Guest(a =>
        {
            var f = a.CreateLabel();
            var h = a.CreateLabel();
            a.call(f);
            a.lea(rbx, __[h]);
            a.push(0);
            a.call(rbx);
            a.lea(rcx, __[f]);
            a.mov(__qword_ptr[Guest.DataBase], rcx);
            a.call(__qword_ptr[Guest.DataBase]);
            a.push(5);
            a.call(h);
            a.hlt();
            a.Label(ref f);
            a.add(r8, 1);
            a.ret();
            a.Label(ref h);
            a.add(r9, 1);
            a.mov(r10, __qword_ptr[rsp + 8]);
            a.ret(8);
        });
        ulong sp = g[Gpr.Rsp];
        g.RunToHlt();
        Assert.Equal(2UL, g[Gpr.R8]);
        Assert.Equal(2UL, g[Gpr.R9]);
        Assert.Equal(5UL, g[Gpr.R10]);
        Assert.Equal(sp, g[Gpr.Rsp]);
    }

    [Fact]
    public void JmpIndirect_RegisterAndMemory()
    {
        using Guest g = Guest.RunProgram(a =>
        {
            var t1 = a.CreateLabel();
            var t2 = a.CreateLabel();
            var slot = a.CreateLabel();
            a.lea(rax, __[t1]);
            a.jmp(rax);
            a.mov(r8, 1);
            a.Label(ref t1);
            a.lea(rbx, __[t2]);
            a.mov(__qword_ptr[slot], rbx);
            a.jmp(__qword_ptr[slot]);
            a.mov(r9, 1);
            a.Label(ref slot);
            a.dq(0);
            a.Label(ref t2);
            a.mov(r10, 1);
        });
        Assert.Equal(0UL, g[Gpr.R8]);
        Assert.Equal(0UL, g[Gpr.R9]);
        Assert.Equal(1UL, g[Gpr.R10]);
    }

    [Fact]
    public void LoopFamilyAndJrcxz()
    {
        using Guest g = Guest.RunProgram(a =>
        {
            var l = a.CreateLabel();
            var skip = a.CreateLabel();
            var l2 = a.CreateLabel();
            a.mov(ecx, 5);
            a.Label(ref l);
            a.inc(rax);
            a.loop(l);
            a.jrcxz(skip);
            a.mov(r8, 1);
            a.Label(ref skip);
            a.mov(ecx, 10);
            a.Label(ref l2);
            a.inc(rbx);
            a.cmp(rbx, 3);
            a.loopne(l2);
        });
        Assert.Equal(5UL, g[Gpr.Rax]);
        Assert.Equal(0UL, g[Gpr.R8]);
        Assert.Equal(3UL, g[Gpr.Rbx]);
        Assert.Equal(7UL, g[Gpr.Rcx]);
    }

    [Fact]
    public void InstructionLimit_StopsExactly_MidBlock_WithExactFlags()
    {
        using var g = new Guest(a =>
        {
            a.add(rax, rbx);   // flags dead in the full block, exact when the limit stops after it
            a.mov(rcx, 1);
            a.sub(rdx, 1);
            a.hlt();
        });
        g[Gpr.Rax] = ulong.MaxValue;
        g[Gpr.Rbx] = 1;
        CpuExit exit = g.Run(1);
        Assert.Equal(CpuExitKind.InstructionLimit, exit.Kind);
        Assert.Equal(1UL, g.State.InstructionsRetired);
        Assert.Equal(Guest.CodeBase + 3, g.State.Rip);
        Assert.Equal(Rflags.Cf | Rflags.Zf | Rflags.Pf | Rflags.Af, g.Rflags & Rflags.Status);
        exit = g.Run(1);
        Assert.Equal(CpuExitKind.InstructionLimit, exit.Kind);
        Assert.Equal(1UL, g[Gpr.Rcx]);
        g.RunToHlt();
        Assert.Equal(3UL, g.State.InstructionsRetired);
        Assert.Equal(ulong.MaxValue, g[Gpr.Rdx]);
    }
}
