using TdxSim.Abi;
using static Iced.Intel.AssemblerRegisters;

namespace TdxSim.Cpu.Tests.Interpreter;

/// <summary>MUL, IMUL in every form, DIV, IDIV, and #DE.</summary>
public sealed class MulDivTests
{
    private const ulong CfOf = Rflags.Cf | Rflags.Of;

    [Fact]
    public void Mul64_WidensIntoRdxRax()
    {
        using Guest g = Guest.RunProgram(
            a => a.mul(rbx),
            s =>
            {
                s[Gpr.Rax] = ulong.MaxValue;
                s[Gpr.Rbx] = 2;
            });
        Assert.Equal(ulong.MaxValue - 1, g[Gpr.Rax]);
        Assert.Equal(1UL, g[Gpr.Rdx]);
        Assert.Equal(CfOf, g.Rflags & CfOf);
    }

    [Fact]
    public void Mul8_WritesAx()
    {
        using Guest g = Guest.RunProgram(
            a => a.mul(bl),
            s =>
            {
                s[Gpr.Rax] = 0xFFFF_FF10;
                s[Gpr.Rbx] = 0x10;
            });
        Assert.Equal(0xFFFF_0100UL, g[Gpr.Rax]);
        Assert.Equal(CfOf, g.Rflags & CfOf);
    }

    [Fact]
    public void Imul_AllForms()
    {
        using Guest g = Guest.RunProgram(
            a =>
            {
                a.imul(ecx);               // EDX:EAX = -2 * 3
                a.mov(r8, rax);
                a.mov(r9, rdx);
                a.imul(rbx, rcx);          // 2-operand
                a.imul(rsi, rcx, -7);      // 3-operand
                a.mov(rdi, Guest.DataBase);
                a.mov(r12, 1L << 62);
                a.mov(__qword_ptr[rdi], r12);
                a.imul(r10, __qword_ptr[rdi], 4); // overflows
            },
            s =>
            {
                s[Gpr.Rax] = 0xFFFFFFFE;
                s[Gpr.Rcx] = 3;
                s[Gpr.Rbx] = unchecked((ulong)-5L);
            });
        Assert.Equal(0xFFFFFFFAUL, g[Gpr.R8]);
        Assert.Equal(0xFFFFFFFFUL, g[Gpr.R9]);
        Assert.Equal(unchecked((ulong)-15L), g[Gpr.Rbx]);
        Assert.Equal(unchecked((ulong)-21L), g[Gpr.Rsi]);
        Assert.Equal(0UL, g[Gpr.R10]);
        Assert.Equal(CfOf, g.Rflags & CfOf);
    }

    [Fact]
    public void DivIdiv_QuotientAndRemainder()
    {
        using Guest g = Guest.RunProgram(
            a =>
            {
                a.div(rcx);               // RDX:RAX = 1:0 / 3
                a.mov(r8, rax);
                a.mov(r9, rdx);
                a.mov(eax, -7);
                a.cdq();
                a.mov(ebx, 2);
                a.idiv(ebx);
                a.mov(r10, rax);
                a.mov(r11, rdx);
                a.mov(ax, 1000);
                a.mov(bl, 7);
                a.div(bl);
            },
            s =>
            {
                s[Gpr.Rax] = 0;
                s[Gpr.Rdx] = 1;
                s[Gpr.Rcx] = 3;
            });
        Assert.Equal(0x5555555555555555UL, g[Gpr.R8]);
        Assert.Equal(1UL, g[Gpr.R9]);
        Assert.Equal(0xFFFFFFFDUL, g[Gpr.R10]);
        Assert.Equal(0xFFFFFFFFUL, g[Gpr.R11]);
        Assert.Equal((ulong)((6 << 8) | 142), g[Gpr.Rax] & 0xFFFF);
    }

    [Fact]
    public void Div_ByZero_RaisesDe_WithoutChangingState()
    {
        using var g = new Guest(a =>
        {
            a.mov(eax, 10);
            a.div(ecx);
            a.hlt();
        });
        CpuExit exit = g.Run();
        Assert.Equal(CpuExitKind.Exception, exit.Kind);
        Assert.Equal(CpuExit.DivideError, exit.Vector);
        Assert.Equal(Guest.CodeBase + 5, exit.Rip);
        Assert.Equal(Guest.CodeBase + 5, g.State.Rip);
        Assert.Equal(10UL, g[Gpr.Rax]);
        Assert.Contains("#DE", exit.Detail, StringComparison.Ordinal);
        Assert.Contains("div ecx", exit.Detail, StringComparison.Ordinal);
        Assert.Equal(1UL, g.State.InstructionsRetired);
    }

    [Fact]
    public void Idiv_Overflow_RaisesDe()
    {
        using var g = new Guest(a =>
        {
            a.idiv(rcx);
            a.hlt();
        });
        g[Gpr.Rax] = 0x8000_0000_0000_0000;
        g[Gpr.Rdx] = ulong.MaxValue;
        g[Gpr.Rcx] = ulong.MaxValue;
        CpuExit exit = g.Run();
        Assert.Equal(CpuExitKind.Exception, exit.Kind);
        Assert.Equal(CpuExit.DivideError, exit.Vector);
        Assert.Equal(0x8000_0000_0000_0000UL, g[Gpr.Rax]);
    }
}
