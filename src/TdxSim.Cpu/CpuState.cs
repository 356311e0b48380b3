using System.Runtime.InteropServices;
using TdxSim.Abi;

namespace TdxSim.Cpu;

/// <summary>
/// Architectural state of one vCPU: plain data, one per vCPU, never shared or static.
/// The interpreter keeps RFLAGS exact at every instruction boundary it can stop on, so
/// <see cref="Rflags"/> is a plain field.
/// </summary>
[StructLayout(LayoutKind.Sequential)]
public struct CpuState
{
    /// <summary>RFLAGS value at reset: only the always-one bit 1 (IF = 0, contract section 3).</summary>
    public const ulong ResetRflags = 0x2;

    /// <summary>The x87 control word after power-on and FNINIT: every exception masked, 64-bit precision, round to nearest.</summary>
    public const ushort InitialFcw = 0x37F;

    /// <summary>MXCSR after power-on: every SSE exception masked, round to nearest.</summary>
    public const uint InitialMxcsr = 0x1F80;

    /// <summary>XCR0 after power-on: x87 state only.</summary>
    public const ulong InitialXcr0 = 1;

    /// <summary>
    /// Sets the power-on x87/SSE state (SDM Vol. 3A 9.1.1; the TDX module gives a TD vCPU the same): FCW, MXCSR and
    /// XCR0 as above.
    /// </summary>
    public void SetPowerOnFpuState()
    {
        Fcw = InitialFcw;
        Mxcsr = InitialMxcsr;
        Xcr0 = InitialXcr0;
    }

    /// <summary>General-purpose registers, indexed by <see cref="TdxSim.Abi.Gpr"/>.</summary>
    public Gprs Gpr;

    /// <summary>Address of the next instruction to execute (on an exit: of the instruction that exited).</summary>
    public ulong Rip;

    /// <summary>Architectural RFLAGS; bit 1 always reads as one.</summary>
    public ulong Rflags;

    /// <summary>Instructions retired so far (an instruction that exits is not retired; a REP string instruction counts once).</summary>
    public ulong InstructionsRetired;

    /// <summary>FS segment base, added to memory operands with an FS override (long mode: only FS and GS have bases).</summary>
    public ulong FsBase;

    /// <summary>GS segment base, added to memory operands with a GS override.</summary>
    public ulong GsBase;

    /// <summary>CR0: read and written by MOV CR0 (long mode at reset: PG, WP, NE, ET, MP, PE).</summary>
    public ulong Cr0;

    /// <summary>CR2: the page-fault linear address register (written by the guest, never by a fault yet).</summary>
    public ulong Cr2;

    /// <summary>CR3: the page-table root the guest loaded. TdxSim does not translate yet: linear = guest-physical,
    /// so the guest's own tables must identity-map what it touches (Linux's decompressor's do).</summary>
    public ulong Cr3;

    /// <summary>CR4 (PAE at reset).</summary>
    public ulong Cr4;

    /// <summary>CR8 (task priority).</summary>
    public ulong Cr8;

    /// <summary>IA32_EFER (LME, LMA, NXE at reset; SCE as the guest sets it).</summary>
    public ulong Efer;

    /// <summary>GDTR base and limit (LGDT).</summary>
    public ulong GdtrBase;

    /// <summary>IDTR base (LIDT).</summary>
    public ulong IdtrBase;

    /// <summary>GDTR limit.</summary>
    public ushort GdtrLimit;

    /// <summary>IDTR limit.</summary>
    public ushort IdtrLimit;

    /// <summary>Segment selectors CS, DS, ES, SS, FS, GS (long mode: only FS and GS have bases, in <see cref="FsBase"/>/<see cref="GsBase"/>).</summary>
    public ushort Cs, Ds, Es, Ss, Fs, Gs;

    /// <summary>IA32_KERNEL_GS_BASE (SWAPGS exchanges it with <see cref="GsBase"/>).</summary>
    public ulong KernelGsBase;

    /// <summary>IA32_STAR, IA32_LSTAR, IA32_CSTAR, IA32_FMASK (SYSCALL), IA32_TSC_AUX (RDTSCP), IA32_PAT.</summary>
    public ulong Star, Lstar, Cstar, Fmask, TscAux, Pat;

    /// <summary>XCR0 (XSETBV): x87 at reset.</summary>
    public ulong Xcr0;

    /// <summary>Task register: selector, base and limit from the 16-byte TSS descriptor LTR loaded.</summary>
    public ulong TrBase;

    /// <inheritdoc cref="TrBase"/>
    public uint TrLimit;

    /// <summary>MXCSR (LDMXCSR/STMXCSR, FXSAVE/FXRSTOR).</summary>
    public uint Mxcsr;

    /// <summary>Task register and LDT register selectors.</summary>
    public ushort Tr, Ldtr;

    /// <summary>x87 control and status words (FNINIT, FNSTCW, FNSTSW, FLDCW, FXSAVE).</summary>
    public ushort Fcw, Fsw;

    /// <summary>Debug registers DR0-DR3, DR6, DR7 (plain state: no breakpoints fire).</summary>
    public ulong Dr0, Dr1, Dr2, Dr3, Dr6, Dr7;

    /// <summary>Exceptions and interrupts delivered through the guest's IDT.</summary>
    public ulong InterruptsDelivered;

    /// <summary>CR0 of a vCPU entering 64-bit mode: PG | WP | NE | ET | MP | PE.</summary>
    public const ulong LongModeCr0 = 0x8005_0033;

    /// <summary>CR4 at entry: PAE (TDX also forces MCE and VMXE off, PKE/others as the guest sets).</summary>
    public const ulong LongModeCr4 = 0x20;

    /// <summary>EFER at entry: LME | LMA | NXE.</summary>
    public const ulong LongModeEfer = 0xD00;
}

/// <summary>Architectural RFLAGS bits (SDM Vol. 1 section 3.4.3).</summary>
public static class Rflags
{
    public const ulong Cf = 1UL << 0;
    public const ulong Reserved1 = 1UL << 1;
    public const ulong Pf = 1UL << 2;
    public const ulong Af = 1UL << 4;
    public const ulong Zf = 1UL << 6;
    public const ulong Sf = 1UL << 7;
    public const ulong Tf = 1UL << 8;
    public const ulong If = 1UL << 9;
    public const ulong Df = 1UL << 10;
    public const ulong Of = 1UL << 11;
    public const ulong Iopl = 3UL << 12;
    public const ulong Nt = 1UL << 14;
    public const ulong Rf = 1UL << 16;
    public const ulong Vm = 1UL << 17;
    public const ulong Ac = 1UL << 18;
    public const ulong Vif = 1UL << 19;
    public const ulong Vip = 1UL << 20;
    public const ulong Id = 1UL << 21;

    /// <summary>The six arithmetic status flags: OF, SF, ZF, AF, PF, CF.</summary>
    public const ulong Status = Cf | Pf | Af | Zf | Sf | Of;
}
