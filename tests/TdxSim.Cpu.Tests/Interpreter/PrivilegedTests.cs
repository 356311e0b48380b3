using TdxSim.Abi;
using static Iced.Intel.AssemblerRegisters;

namespace TdxSim.Cpu.Tests.Interpreter;

/// <summary>
/// CPL-0 instructions a Linux kernel's early boot executes (issue 10): MOV CRn, LGDT/LIDT/SGDT/SIDT, MOV Sreg and far
/// return. They cannot run natively in the differential test's user-mode sandbox, so they are checked here.
/// </summary>
public sealed class PrivilegedTests
{
    private const ulong Gdt = Guest.DataBase;

    [Fact]
    public void MovToAndFromControlRegisters_IsPlainState()
    {
        using Guest g = Guest.RunProgram(a =>
        {
            a.mov(rax, 0x12_3000UL);
            a.mov(cr3, rax);
            a.mov(rbx, 0x20UL | 0x80UL);
            a.mov(cr4, rbx);
            a.mov(rcx, 0x8005_0033UL);
            a.mov(cr0, rcx);
            a.mov(rdx, 0xdead_b000UL);
            a.mov(cr2, rdx);
            a.mov(rsi, 0xFFUL);
            a.mov(cr8, rsi);
            a.mov(r8, cr3);
            a.mov(r9, cr4);
            a.mov(r10, cr0);
            a.mov(r11, cr2);
            a.mov(r12, cr8);
        });
        Assert.Equal(0x12_3000UL, g.State.Cr3);
        Assert.Equal(0xA0UL, g.State.Cr4);
        Assert.Equal(0x8005_0033UL, g.State.Cr0);
        Assert.Equal(0x12_3000UL, g[Gpr.R8]);
        Assert.Equal(0xA0UL, g[Gpr.R9]);
        Assert.Equal(0x8005_0033UL, g[Gpr.R10]);
        Assert.Equal(0xdead_b000UL, g[Gpr.R11]);
        Assert.Equal(0xFUL, g[Gpr.R12]); // CR8 holds the 4-bit TPR
    }

    [Fact]
    public void LgdtLidt_LoadLimitAndBase_SgdtSidtStoreThem()
    {
        using Guest g = Guest.RunProgram(
            a =>
            {
                a.mov(rax, Guest.DataBase + 0x100);
                a.lgdt(__[rax]);
                a.lidt(__[rax + 0x10]);
                a.sgdt(__[rax + 0x20]);
                a.sidt(__[rax + 0x30]);
            },
            g =>
            {
                g.Write(Guest.DataBase + 0x100, [0x1F, 0x00, 0x00, 0x50, 0x01, 0, 0, 0, 0, 0]);
                g.Write(Guest.DataBase + 0x110, [0xFF, 0x0F, 0x00, 0x60, 0, 0, 0, 0x80, 0xFF, 0xFF]);
            });
        Assert.Equal(0x1FUL, g.State.GdtrLimit);
        Assert.Equal(0x1_5000UL, g.State.GdtrBase);
        Assert.Equal(0xFFFUL, g.State.IdtrLimit);
        Assert.Equal(0xFFFF_8000_0000_6000UL, g.State.IdtrBase);
        Assert.Equal(g.Read(Guest.DataBase + 0x100, 10), g.Read(Guest.DataBase + 0x120, 10));
        Assert.Equal(g.Read(Guest.DataBase + 0x110, 10), g.Read(Guest.DataBase + 0x130, 10));
    }

    [Fact]
    public void MovSreg_LoadsSelectors_FsGsTakeTheDescriptorBase()
    {
        using Guest g = Guest.RunProgram(
            a =>
            {
                a.mov(eax, 0x18);
                a.mov(ds, ax);
                a.mov(es, ax);
                a.mov(ss, ax);
                a.mov(ecx, 0x20);
                a.mov(fs, cx);
                a.xor(edx, edx);
                a.mov(gs, dx);
                a.mov(rbx, ulong.MaxValue);
                a.mov(ebx, ds);
                a.mov(r8, ulong.MaxValue);
                a.mov(r8, fs);
            },
            g => SetUpGdt(g));
        Assert.Equal(0x18, g.State.Ds);
        Assert.Equal(0x18, g.State.Es);
        Assert.Equal(0x18, g.State.Ss);
        Assert.Equal(0x20, g.State.Fs);
        Assert.Equal(0x1234_5678UL, g.State.FsBase);
        Assert.Equal(0, g.State.Gs);
        Assert.Equal(0UL, g.State.GsBase);
        Assert.Equal(0x18UL, g[Gpr.Rbx]); // a 32-bit destination is zero-extended
        Assert.Equal(0x20UL, g[Gpr.R8]);
    }

    [Fact]
    public void MovSreg_SelectorBeyondTheGdtLimit_IsGeneralProtection()
    {
        using var g = new Guest(a =>
        {
            a.mov(eax, 0x48);
            a.mov(ds, ax);
            a.hlt();
        });
        SetUpGdt(g);
        CpuExit exit = g.Run();
        Assert.Equal(CpuExitKind.Exception, exit.Kind);
        Assert.Equal(CpuExit.GeneralProtection, exit.Vector);
        Assert.Equal(0x48U, exit.ErrorCode);
        Assert.Equal(Guest.CodeBase + 5, exit.Rip);
    }

    [Fact]
    public void Lretq_PopsRipAndCs_AsLinuxReloadsCs()
    {
        // pushq $0x10; lea target(%rip), %rax; pushq %rax; lretq; target: hlt
        using var g = new Guest(a =>
        {
            Iced.Intel.Label target = a.CreateLabel();
            a.push(0x10);
            a.lea(rax, __[target]);
            a.push(rax);
            a.db(0x48, 0xCB); // lretq
            a.hlt();
            a.Label(ref target);
            a.hlt();
        });
        SetUpGdt(g);
        ulong rsp = g[Gpr.Rsp];
        g.RunToHlt();
        Assert.Equal(0x10, g.State.Cs);
        Assert.Equal(rsp, g[Gpr.Rsp]);
        Assert.Equal(4UL, g.State.InstructionsRetired);
        Assert.Equal(Guest.CodeBase + 2 + 7 + 1 + 2 + 1, g.State.Rip); // the second HLT
    }

    [Fact]
    public void Lretq_ToADataSegment_IsGeneralProtection()
    {
        using var g = new Guest(a =>
        {
            a.push(0x18);
            a.push(0x1000);
            a.db(0x48, 0xCB);
        });
        SetUpGdt(g);
        CpuExit exit = g.Run();
        Assert.Equal(CpuExitKind.Exception, exit.Kind);
        Assert.Equal(CpuExit.GeneralProtection, exit.Vector);
        Assert.Contains("64-bit code segment", exit.Detail, StringComparison.Ordinal);
    }

    /// <summary>The boot protocol's GDT: null, null, 0x10 64-bit code, 0x18 data, 0x20 data with base 0x12345678.</summary>
    private static void SetUpGdt(Guest g)
    {
        g.Write64(Gdt + 0x10, 0x00AF9B000000FFFF);
        g.Write64(Gdt + 0x18, 0x00CF93000000FFFF);
        g.Write64(Gdt + 0x20, 0x12CF93345678FFFF);
        g.State.GdtrBase = Gdt;
        g.State.GdtrLimit = 0x27;
    }
}
