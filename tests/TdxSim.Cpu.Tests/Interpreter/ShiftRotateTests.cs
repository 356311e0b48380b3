using TdxSim.Abi;
using static Iced.Intel.AssemblerRegisters;

namespace TdxSim.Cpu.Tests.Interpreter;

/// <summary>SHL, SHR, SAR, ROL, ROR, RCL, RCR, SHLD, SHRD: results and the defined flags.</summary>
public sealed class ShiftRotateTests
{
    private const ulong Cf = Rflags.Cf, Pf = Rflags.Pf, Zf = Rflags.Zf, Sf = Rflags.Sf, Of = Rflags.Of;

    [Fact]
    public void ShlShrSar_ImmediateCounts()
    {
        using Guest g = Guest.RunProgram(
            a =>
            {
                a.shl(rax, 4);
                a.shr(ebx, 1);
                a.sar(cl, 2);
                a.sar(rdx, 63);
            },
            s =>
            {
                s[Gpr.Rax] = 0xF000_0000_0000_000F;
                s[Gpr.Rbx] = 0xFFFF_FFFF_8000_0001;
                s[Gpr.Rcx] = 0x81;
                s[Gpr.Rdx] = 0x8000_0000_0000_0000;
            });
        Assert.Equal(0xF0UL, g[Gpr.Rax]);
        Assert.Equal(0x40000000UL, g[Gpr.Rbx]);
        Assert.Equal(0xE0UL, g[Gpr.Rcx]);
        Assert.Equal(ulong.MaxValue, g[Gpr.Rdx]);
        Assert.Equal(Sf | Pf, g.Rflags & (Cf | Pf | Zf | Sf)); // SAR by 63: last bit out is the sign bit's neighbour (0)
    }

    [Fact]
    public void Shl_ByOne_SetsCarryAndOverflow()
    {
        using Guest g = Guest.RunProgram(a => a.shl(al, 1), s => s[Gpr.Rax] = 0x81);
        Assert.Equal(0x02UL, g[Gpr.Rax]);
        Assert.Equal(Cf | Of, g.Rflags & (Cf | Of | Zf | Sf));
    }

    [Fact]
    public void ShiftByCl_ZeroCount_LeavesFlags()
    {
        using Guest g = Guest.RunProgram(
            a =>
            {
                a.stc();
                a.shl(rax, cl);
            },
            s =>
            {
                s[Gpr.Rax] = 5;
                s[Gpr.Rcx] = 64; // masked to 0
            });
        Assert.Equal(5UL, g[Gpr.Rax]);
        Assert.Equal(Cf, g.Rflags & Cf);
    }

    [Fact]
    public void Shr_ByteByCountBeyondWidth_ClearsResult()
    {
        using Guest g = Guest.RunProgram(
            a => a.shr(bl, cl),
            s =>
            {
                s[Gpr.Rbx] = 0xFF;
                s[Gpr.Rcx] = 9;
            });
        Assert.Equal(0UL, g[Gpr.Rbx]);
        Assert.Equal(Zf, g.Rflags & Zf);
    }

    [Fact]
    public void RolRor_RotateAndSetCarry()
    {
        using Guest g = Guest.RunProgram(
            a =>
            {
                a.rol(rax, 4);
                a.ror(bx, 4);
                a.rol(ecx, 1);
            },
            s =>
            {
                s[Gpr.Rax] = 0xF000_0000_0000_0001;
                s[Gpr.Rbx] = 0x1234;
                s[Gpr.Rcx] = 0x8000_0000;
            });
        Assert.Equal(0x0000_0000_0000_001FUL, g[Gpr.Rax]);
        Assert.Equal(0x4123UL, g[Gpr.Rbx]);
        Assert.Equal(1UL, g[Gpr.Rcx]);
        Assert.Equal(Cf | Of, g.Rflags & (Cf | Of));
    }

    [Fact]
    public void RclRcr_RotateThroughCarry()
    {
        using Guest g = Guest.RunProgram(
            a =>
            {
                a.stc();
                a.rcl(al, 1);       // 0x80 with CF=1 -> 0x01, CF=1
                a.mov(r8, rax);
                a.clc();
                a.rcr(bx, 1);       // 0x0001 with CF=0 -> 0x0000, CF=1
                a.mov(r9, rbx);
                a.rcl(rcx, 3);      // CF=1 enters at bit 2
            },
            s =>
            {
                s[Gpr.Rax] = 0x80;
                s[Gpr.Rbx] = 1;
                s[Gpr.Rcx] = 0;
            });
        Assert.Equal(0x01UL, g[Gpr.R8]);
        Assert.Equal(0UL, g[Gpr.R9]);
        Assert.Equal(4UL, g[Gpr.Rcx]);
        Assert.Equal(0UL, g.Rflags & Cf);
    }

    [Fact]
    public void ShldShrd_ShiftInFromSecondOperand()
    {
        using Guest g = Guest.RunProgram(
            a =>
            {
                a.shld(rax, rbx, 8);
                a.shrd(ecx, edx, cl);
                a.mov(rsi, Guest.DataBase);
                a.mov(__qword_ptr[rsi], r8);
                a.shld(__qword_ptr[rsi], r9, 4);
            },
            s =>
            {
                s[Gpr.Rax] = 0x0011_2233_4455_6677;
                s[Gpr.Rbx] = 0x8899_AABB_CCDD_EEFF;
                s[Gpr.Rcx] = 0x0000_0008;
                s[Gpr.Rdx] = 0x0000_00AB;
                s[Gpr.R8] = 0x1;
                s[Gpr.R9] = 0xF000_0000_0000_0000;
            });
        Assert.Equal(0x1122_3344_5566_7788UL, g[Gpr.Rax]);
        Assert.Equal(0xAB00_0000UL, g[Gpr.Rcx]);
        Assert.Equal(0x1FUL, g.Read64(Guest.DataBase));
    }

    [Fact]
    public void ShiftMemory_ReadModifyWrite()
    {
        using Guest g = Guest.RunProgram(a =>
        {
            a.mov(rsi, Guest.DataBase);
            a.mov(__dword_ptr[rsi], 0x10);
            a.shl(__dword_ptr[rsi], 3);
            a.sar(__byte_ptr[rsi + 4], 1);
        });
        Assert.Equal(0x80U, g.Read32(Guest.DataBase));
    }
}
