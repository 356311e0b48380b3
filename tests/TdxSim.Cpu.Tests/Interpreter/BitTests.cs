using TdxSim.Abi;
using static Iced.Intel.AssemblerRegisters;

namespace TdxSim.Cpu.Tests.Interpreter;

/// <summary>BT, BTS, BTR, BTC, BSF, BSR, TZCNT, LZCNT, POPCNT.</summary>
public sealed class BitTests
{
    [Fact]
    public void BtFamily_Register_SetsCarryAndModifies()
    {
        using Guest g = Guest.RunProgram(
            a =>
            {
                a.bt(rax, 3);
                a.setc(r8b);
                a.bts(rax, 4);
                a.btr(rax, 0);
                a.btc(rax, rcx);      // bit 65 & 63 = 1
                a.setc(r9b);
            },
            s =>
            {
                s[Gpr.Rax] = 0b1001;
                s[Gpr.Rcx] = 65;
            });
        Assert.Equal(1UL, g[Gpr.R8]);
        Assert.Equal(0b11010UL, g[Gpr.Rax]);
        Assert.Equal(0UL, g[Gpr.R9]);
    }

    [Fact]
    public void Bt_MemoryWithRegisterOffset_AddressesBeyondOperand()
    {
        using Guest g = Guest.RunProgram(
            a =>
            {
                a.mov(rsi, Guest.DataBase + 16);
                a.bts(__dword_ptr[rsi], rcx);   // offset 40: dword at +4, bit 8
                a.btr(__qword_ptr[rsi], rdx);   // offset -1: qword at -8, bit 63
                a.setc(bl);
            },
            s =>
            {
                s[Gpr.Rcx] = 40;
                s[Gpr.Rdx] = ulong.MaxValue;
            });
        Assert.Equal(0x100U, g.Read32(Guest.DataBase + 20));
        Assert.Equal(0UL, g[Gpr.Rbx] & 0xFF);
    }

    [Fact]
    public void BsfBsr_FindBits_ZeroSourceSetsZfKeepsDestination()
    {
        using Guest g = Guest.RunProgram(
            a =>
            {
                a.bsf(rax, rbx);
                a.bsr(rcx, rbx);
                a.bsf(rdx, rsi);
                a.setz(r8b);
            },
            s =>
            {
                s[Gpr.Rbx] = 0x0000_0100_0000_1000;
                s[Gpr.Rdx] = 0x55;
                s[Gpr.Rsi] = 0;
            });
        Assert.Equal(12UL, g[Gpr.Rax]);
        Assert.Equal(40UL, g[Gpr.Rcx]);
        Assert.Equal(0x55UL, g[Gpr.Rdx]);
        Assert.Equal(1UL, g[Gpr.R8]);
    }

    [Fact]
    public void TzcntLzcntPopcnt_CountBits()
    {
        using Guest g = Guest.RunProgram(
            a =>
            {
                a.tzcnt(rax, rbx);
                a.lzcnt(ecx, ebx);
                a.popcnt(rdx, rbx);
                a.tzcnt(esi, edi);     // zero source: width, CF=1
                a.setc(r8b);
                a.popcnt(r9, rdi);
                a.setz(r10b);
            },
            s =>
            {
                s[Gpr.Rbx] = 0x00F0_0000_0000_0100;
                s[Gpr.Rdi] = 0;
            });
        Assert.Equal(8UL, g[Gpr.Rax]);
        Assert.Equal(23UL, g[Gpr.Rcx]);
        Assert.Equal(5UL, g[Gpr.Rdx]);
        Assert.Equal(32UL, g[Gpr.Rsi]);
        Assert.Equal(1UL, g[Gpr.R8]);
        Assert.Equal(0UL, g[Gpr.R9]);
        Assert.Equal(1UL, g[Gpr.R10]);
    }
}
