using TdxSim.Abi;
using static Iced.Intel.AssemblerRegisters;

namespace TdxSim.Cpu.Tests.Interpreter;

/// <summary>MOV forms, MOVZX/MOVSX/MOVSXD, LEA, XCHG, BSWAP, CBW family, partial-register rules.</summary>
public sealed class MovTests
{
    [Fact]
    public void Mov_PartialRegisters_FollowHardwareRules()
    {
        using Guest g = Guest.RunProgram(
            a =>
            {
                a.mov(rax, 0x1122334455667788);
                a.mov(rbx, rax);
                a.mov(rcx, rax);
                a.mov(rdx, rax);
                a.mov(rsi, rax);
                a.mov(bl, 0xAA);   // 8-bit low: merge
                a.mov(ch, 0xBB);   // 8-bit high: byte 1
                a.mov(dx, 0xCCDD); // 16-bit: merge
                a.mov(esi, 0xEE);  // 32-bit: zero-extend
                a.mov(r9b, 0x5A);
            },
            s => s[Gpr.R9] = ulong.MaxValue);
        Assert.Equal(0x11223344556677AAUL, g[Gpr.Rbx]);
        Assert.Equal(0x112233445566BB88UL, g[Gpr.Rcx]);
        Assert.Equal(0x112233445566CCDDUL, g[Gpr.Rdx]);
        Assert.Equal(0xEEUL, g[Gpr.Rsi]);
        Assert.Equal(0xFFFFFFFFFFFFFF5AUL, g[Gpr.R9]);
    }

    [Fact]
    public void Mov_MemoryForms_LoadAndStoreEveryWidth()
    {
        using Guest g = Guest.RunProgram(a =>
        {
            a.mov(rbx, Guest.DataBase);
            a.mov(__qword_ptr[rbx], 0x7FFFFFFF);
            a.mov(__dword_ptr[rbx + 8], 0x89ABCDEF);
            a.mov(__word_ptr[rbx + 12], 0x4321);
            a.mov(__byte_ptr[rbx + 14], 0x99);
            a.mov(rax, __qword_ptr[rbx]);
            a.mov(ecx, __dword_ptr[rbx + 8]);
            a.mov(dx, __word_ptr[rbx + 12]);
            a.mov(r8b, __byte_ptr[rbx + 14]);
            a.mov(r10, 0xFEDCBA9876543210);
            a.mov(r11, 4);
            a.mov(__qword_ptr[rbx + r11 * 8 - 16], r10);
        });
        Assert.Equal(0x7FFFFFFFUL, g[Gpr.Rax]);
        Assert.Equal(0x89ABCDEFUL, g[Gpr.Rcx]);
        Assert.Equal(0x4321UL, g[Gpr.Rdx] & 0xFFFF);
        Assert.Equal(0x99UL, g[Gpr.R8] & 0xFF);
        Assert.Equal(0xFEDCBA9876543210UL, g.Read64(Guest.DataBase + 16));
    }

    [Fact]
    public void Mov_RipRelative_ResolvesAgainstNextInstruction()
    {
        using var g = new Guest(a =>
        {
            var data = a.CreateLabel();
            a.mov(rax, __qword_ptr[data]);
            a.inc(__qword_ptr[data]);
            a.mov(rbx, __qword_ptr[data]);
            a.hlt();
            a.Label(ref data);
            a.dq(0x0102030405060708);
        });
        g.RunToHlt();
        Assert.Equal(0x0102030405060708UL, g[Gpr.Rax]);
        Assert.Equal(0x0102030405060709UL, g[Gpr.Rbx]);
    }

    [Fact]
    public void MovzxMovsxMovsxd_ExtendCorrectly()
    {
        using Guest g = Guest.RunProgram(
            a =>
            {
                a.movzx(eax, cl);
                a.movsx(rbx, cl);
                a.movzx(edx, cx);
                a.movsx(esi, cx);
                a.movsxd(rdi, ecx);
                a.mov(r8, Guest.DataBase);
                a.mov(__dword_ptr[r8], ecx);
                a.movsx(r9, __word_ptr[r8]);
                a.movsxd(r10, __dword_ptr[r8]);
                a.movzx(r11d, __byte_ptr[r8 + 1]);
            },
            s =>
            {
                s[Gpr.Rcx] = 0xFFFF_FFFF_8000_F0F0;
                s[Gpr.Rax] = ulong.MaxValue;
            });
        Assert.Equal(0xF0UL, g[Gpr.Rax]);
        Assert.Equal(0xFFFFFFFFFFFFFFF0UL, g[Gpr.Rbx]);
        Assert.Equal(0xF0F0UL, g[Gpr.Rdx]);
        Assert.Equal(0xFFFFF0F0UL, g[Gpr.Rsi]);
        Assert.Equal(0xFFFFFFFF8000F0F0UL, g[Gpr.Rdi]);
        Assert.Equal(0xFFFFFFFFFFFFF0F0UL, g[Gpr.R9]);
        Assert.Equal(0xFFFFFFFF8000F0F0UL, g[Gpr.R10]);
        Assert.Equal(0xF0UL, g[Gpr.R11]);
    }

    [Fact]
    public void Lea_ComputesAddressWithoutMemoryAccessAndTruncates()
    {
        using Guest g = Guest.RunProgram(
            a =>
            {
                a.lea(rax, __[rbx + rcx * 8 + 0x10]);
                a.lea(edx, __[rbx + rcx * 4 - 1]);
                a.lea(rsi, __[rbx + rcx * 2 + 0x7000_0000]); // never touched: LEA does no access
            },
            s =>
            {
                s[Gpr.Rbx] = 0xFFFF_FFFF_0000_1000;
                s[Gpr.Rcx] = 3;
            });
        Assert.Equal(0xFFFF_FFFF_0000_1028UL, g[Gpr.Rax]);
        Assert.Equal(0x100BUL, g[Gpr.Rdx]);
        Assert.Equal(0xFFFF_FFFF_7000_1006UL, g[Gpr.Rsi]);
    }

    [Fact]
    public void Xchg_RegisterAndMemory_Swap()
    {
        using Guest g = Guest.RunProgram(
            a =>
            {
                a.xchg(rax, rbx);
                a.mov(rsi, Guest.DataBase);
                a.mov(__qword_ptr[rsi], 77);
                a.xchg(__qword_ptr[rsi], rcx);
                a.xchg(dl, dh);
            },
            s =>
            {
                s[Gpr.Rax] = 1;
                s[Gpr.Rbx] = 2;
                s[Gpr.Rcx] = 99;
                s[Gpr.Rdx] = 0x1234;
            });
        Assert.Equal(2UL, g[Gpr.Rax]);
        Assert.Equal(1UL, g[Gpr.Rbx]);
        Assert.Equal(77UL, g[Gpr.Rcx]);
        Assert.Equal(99UL, g.Read64(Guest.DataBase));
        Assert.Equal(0x3412UL, g[Gpr.Rdx]);
    }

    [Fact]
    public void Bswap_ReversesBytes_32BitZeroExtends()
    {
        using Guest g = Guest.RunProgram(
            a =>
            {
                a.bswap(rax);
                a.bswap(ebx);
            },
            s =>
            {
                s[Gpr.Rax] = 0x0102030405060708;
                s[Gpr.Rbx] = 0xFFFFFFFF_11223344;
            });
        Assert.Equal(0x0807060504030201UL, g[Gpr.Rax]);
        Assert.Equal(0x44332211UL, g[Gpr.Rbx]);
    }

    [Fact]
    public void SignExtensionFamily_CbwCwdeCdqeCwdCdqCqo()
    {
        using Guest g = Guest.RunProgram(a =>
        {
            a.mov(eax, 0x80);
            a.cbw();
            a.mov(r8, rax);
            a.mov(eax, 0x8000);
            a.cwde();
            a.mov(r9, rax);
            a.mov(eax, 0x80000000);
            a.cdqe();
            a.mov(r10, rax);
            a.cqo();
            a.mov(r11, rdx);
            a.mov(eax, 0x7FFFFFFF);
            a.cdq();
            a.mov(r12, rdx);
            a.mov(ax, 0x8000);
            a.cwd();
        });
        Assert.Equal(0xFF80UL, g[Gpr.R8]);
        Assert.Equal(0xFFFF8000UL, g[Gpr.R9]);
        Assert.Equal(0xFFFFFFFF80000000UL, g[Gpr.R10]);
        Assert.Equal(ulong.MaxValue, g[Gpr.R11]);
        Assert.Equal(0UL, g[Gpr.R12]);
        Assert.Equal(0xFFFFUL, g[Gpr.Rdx]);
    }

    [Fact]
    public void SetccAndCmovcc_FollowConditions_Cmov32ZeroExtendsWhenFalse()
    {
        using Guest g = Guest.RunProgram(
            a =>
            {
                a.cmp(rax, rbx);      // 1 - 2: CF=1, SF=1, ZF=0
                a.setb(cl);
                a.setae(ch);
                a.setl(dl);
                a.setg(dh);
                a.cmovb(rsi, rbx);
                a.cmova(edi, ebx);    // false, still zero-extends
                a.mov(r8, Guest.DataBase);
                a.sete(__byte_ptr[r8]);
                a.setne(__byte_ptr[r8 + 1]);
            },
            s =>
            {
                s[Gpr.Rax] = 1;
                s[Gpr.Rbx] = 2;
                s[Gpr.Rcx] = 0xFFFF;
                s[Gpr.Rdi] = 0xFFFFFFFF_00000005;
            });
        Assert.Equal(0x0001UL, g[Gpr.Rcx] & 0xFFFF);
        Assert.Equal(0x0001UL, g[Gpr.Rdx] & 0xFFFF);
        Assert.Equal(2UL, g[Gpr.Rsi]);
        Assert.Equal(5UL, g[Gpr.Rdi]);
        Assert.Equal(new byte[] { 0, 1 }, g.Read(Guest.DataBase, 2));
    }

    [Fact]
    public void AddressSizePrefix_TruncatesEffectiveAddressTo32Bits()
    {
        using Guest g = Guest.RunProgram(
            a =>
            {
                a.mov(__dword_ptr[Guest.DataBase], 0x5A5A);
                a.mov(eax, __dword_ptr[ebx + ecx]);
            },
            s =>
            {
                s[Gpr.Rbx] = 0xFFFF_FFFF_0000_0000 | (Guest.DataBase - 0x10);
                s[Gpr.Rcx] = 0x10;
            });
        Assert.Equal(0x5A5AUL, g[Gpr.Rax]);
    }

    [Fact]
    public void MovAbsolute64_MoffsForm_ReadsAndWrites()
    {
        using Guest g = Guest.RunProgram(
            a =>
            {
                a.mov(__qword_ptr[Guest.DataBase], rax);
                a.mov(rbx, __qword_ptr[Guest.DataBase]);
            },
            s => s[Gpr.Rax] = 0xABCDEF);
        Assert.Equal(0xABCDEFUL, g[Gpr.Rbx]);
    }
}
