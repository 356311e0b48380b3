using TdxSim.Abi;
using static Iced.Intel.AssemblerRegisters;

namespace TdxSim.Cpu.Tests.Interpreter;

/// <summary>ADD, ADC, SUB, SBB, CMP, AND, OR, XOR, TEST, INC, DEC, NEG, NOT with exact flags.</summary>
public sealed class AluTests
{
    private const ulong Cf = Rflags.Cf, Pf = Rflags.Pf, Af = Rflags.Af, Zf = Rflags.Zf, Sf = Rflags.Sf, Of = Rflags.Of;

    private static ulong Status(Guest g) => g.Rflags & Rflags.Status;

    [Theory]
    [InlineData(0x7FUL, 1UL, 0x80UL, Sf | Of | Af)]
    [InlineData(0xFFUL, 1UL, 0x00UL, Cf | Zf | Af | Pf)]
    [InlineData(0x80UL, 0x80UL, 0x00UL, Cf | Zf | Of | Pf)]
    [InlineData(0x01UL, 0x02UL, 0x03UL, Pf)]
    public void Add8_SetsExactFlags(ulong a, ulong b, ulong result, ulong flags)
    {
        using Guest g = Guest.RunProgram(
            asm => asm.add(al, bl),
            s =>
            {
                s[Gpr.Rax] = a;
                s[Gpr.Rbx] = b;
            });
        Assert.Equal(result, g[Gpr.Rax]);
        Assert.Equal(flags, Status(g));
    }

    [Theory]
    [InlineData(0UL, 1UL, 0xFFFFFFFFFFFFFFFFUL, Cf | Sf | Af | Pf)]
    [InlineData(0x8000000000000000UL, 1UL, 0x7FFFFFFFFFFFFFFFUL, Of | Af | Pf)]
    [InlineData(5UL, 5UL, 0UL, Zf | Pf)]
    public void Sub64_SetsExactFlags(ulong a, ulong b, ulong result, ulong flags)
    {
        using Guest g = Guest.RunProgram(
            asm => asm.sub(rax, rbx),
            s =>
            {
                s[Gpr.Rax] = a;
                s[Gpr.Rbx] = b;
            });
        Assert.Equal(result, g[Gpr.Rax]);
        Assert.Equal(flags, Status(g));
    }

    [Fact]
    public void AdcSbb_ChainCarryAcross128Bits()
    {
        using Guest g = Guest.RunProgram(
            a =>
            {
                a.add(rax, rcx);   // low halves
                a.adc(rbx, rdx);   // high halves + carry
                a.mov(r8, rax);
                a.mov(r9, rbx);
                a.sub(rax, rcx);
                a.sbb(rbx, rdx);
            },
            s =>
            {
                s[Gpr.Rax] = ulong.MaxValue;
                s[Gpr.Rbx] = 1;
                s[Gpr.Rcx] = 1;
                s[Gpr.Rdx] = 2;
            });
        Assert.Equal(0UL, g[Gpr.R8]);
        Assert.Equal(4UL, g[Gpr.R9]);
        Assert.Equal(ulong.MaxValue, g[Gpr.Rax]);
        Assert.Equal(1UL, g[Gpr.Rbx]);
    }

    [Fact]
    public void Adc_WithCarryIn_EqualOperandsSetsCarry()
    {
        using Guest g = Guest.RunProgram(
            a =>
            {
                a.stc();
                a.adc(eax, ebx);
            },
            s =>
            {
                s[Gpr.Rax] = 0xFFFFFFFF;
                s[Gpr.Rbx] = 0;
            });
        Assert.Equal(0UL, g[Gpr.Rax]);
        Assert.Equal(Cf | Zf | Af | Pf, Status(g));
    }

    [Fact]
    public void Sbb_WithBorrowIn_Works()
    {
        using Guest g = Guest.RunProgram(
            a =>
            {
                a.stc();
                a.sbb(ax, bx);
            },
            s =>
            {
                s[Gpr.Rax] = 5;
                s[Gpr.Rbx] = 5;
            });
        Assert.Equal(0xFFFFUL, g[Gpr.Rax]);
        Assert.Equal(Cf | Sf | Af | Pf, Status(g));
    }

    [Fact]
    public void LogicOps_ClearCfOf_SetSzp_32BitZeroExtends()
    {
        using Guest g = Guest.RunProgram(
            a =>
            {
                a.stc();
                a.and(eax, 0xF0);
                a.mov(r8, rax);
                a.or(rbx, -1);
                a.xor(ecx, ecx);
            },
            s =>
            {
                s[Gpr.Rax] = 0xFFFFFFFF_000000F3;
                s[Gpr.Rcx] = 0x1234;
            });
        Assert.Equal(0xF0UL, g[Gpr.R8]);
        Assert.Equal(ulong.MaxValue, g[Gpr.Rbx]);
        Assert.Equal(0UL, g[Gpr.Rcx]);
        Assert.Equal(Zf | Pf, Status(g));
    }

    [Fact]
    public void CmpAndTest_DoNotWriteOperands()
    {
        using Guest g = Guest.RunProgram(
            a =>
            {
                a.mov(rsi, Guest.DataBase);
                a.mov(__dword_ptr[rsi], 10);
                a.cmp(__dword_ptr[rsi], 11);
                a.setb(bl);
                a.test(eax, 0x80000000);
                a.sets(bh);
                a.cmp(rax, __qword_ptr[rsi]);
            },
            s => s[Gpr.Rax] = 0x80000000);
        Assert.Equal(0x0101UL, g[Gpr.Rbx]);
        Assert.Equal(10U, g.Read32(Guest.DataBase));
        Assert.Equal(0x80000000UL, g[Gpr.Rax]);
        Assert.Equal(0UL, Status(g) & (Zf | Cf));
    }

    [Fact]
    public void IncDec_PreserveCarry()
    {
        using Guest g = Guest.RunProgram(
            a =>
            {
                a.stc();
                a.inc(al);         // 0x7F -> 0x80: OF, SF, AF; CF kept
                a.mov(r8, rax);
                a.pushfq();
                a.pop(r9);
                a.clc();
                a.dec(ebx);        // 0 -> 0xFFFFFFFF: SF, AF, PF; CF kept clear
            },
            s => s[Gpr.Rax] = 0x7F);
        Assert.Equal(0x80UL, g[Gpr.R8]);
        Assert.Equal(Cf | Of | Sf | Af, g[Gpr.R9] & Rflags.Status);
        Assert.Equal(0xFFFFFFFFUL, g[Gpr.Rbx]);
        Assert.Equal(Sf | Af | Pf, Status(g));
    }

    [Fact]
    public void NegNot_Work()
    {
        using Guest g = Guest.RunProgram(
            a =>
            {
                a.neg(rax);
                a.mov(r8, rax);
                a.pushfq();
                a.pop(r9);
                a.neg(ebx);
                a.not(cx);
            },
            s =>
            {
                s[Gpr.Rax] = 1;
                s[Gpr.Rbx] = 0;
                s[Gpr.Rcx] = 0x12340F0F;
            });
        Assert.Equal(ulong.MaxValue, g[Gpr.R8]);
        Assert.Equal(Cf | Sf | Af | Pf, g[Gpr.R9] & Rflags.Status);
        Assert.Equal(0UL, g[Gpr.Rbx]);
        Assert.Equal(Zf | Pf, Status(g));
        Assert.Equal(0x1234F0F0UL, g[Gpr.Rcx]);
    }

    [Fact]
    public void MemoryDestinationForms_ReadModifyWrite()
    {
        using Guest g = Guest.RunProgram(a =>
        {
            a.mov(rsi, Guest.DataBase);
            a.mov(__qword_ptr[rsi], 100);
            a.add(__qword_ptr[rsi], 23);
            a.mov(eax, 7);
            a.sub(__dword_ptr[rsi], eax);
            a.or(__byte_ptr[rsi + 1], 0x80);
            a.xor(__word_ptr[rsi + 2], 0xFFFF);
            a.inc(__qword_ptr[rsi + 8]);
            a.neg(__qword_ptr[rsi + 8]);
            a.add(rbx, __qword_ptr[rsi + 8]);
        });
        Assert.Equal(0x0000_0000_FFFF_8074UL, g.Read64(Guest.DataBase));
        Assert.Equal(ulong.MaxValue, g.Read64(Guest.DataBase + 8));
        Assert.Equal(ulong.MaxValue, g[Gpr.Rbx]);
    }

    [Fact]
    public void DeadFlags_SkippedInsideBlock_LiveFlagsStillExact()
    {
        // Flags of the first ADD are dead (overwritten by SUB before any read), the SUB's are read by ADC.
        using Guest g = Guest.RunProgram(
            a =>
            {
                a.add(rax, rbx);
                a.sub(rcx, 1);
                a.adc(rdx, 0);
                a.and(r8, r9);
            },
            s =>
            {
                s[Gpr.Rax] = ulong.MaxValue;
                s[Gpr.Rbx] = 1;
                s[Gpr.Rcx] = 0;
                s[Gpr.R8] = 3;
                s[Gpr.R9] = 1;
            });
        Assert.Equal(1UL, g[Gpr.Rdx]);
        Assert.Equal(0UL, Status(g));
    }
}
