using Iced.Intel;
using TdxSim.Abi;
using static Iced.Intel.AssemblerRegisters;

namespace TdxSim.Machine.Tests.Guests;

/// <summary>
/// Assembly idioms of the test guests, modelled on the KVM TDX selftest library (reference 7): a TDVMCALL with
/// GPR_SELECT = R10..R15, reports on port 0x31 (4-byte OUTs; a 64-bit value as two, low half first), success on
/// port 0x30, ReportFatalError, and the debug-exit port.
/// </summary>
internal static class GuestAsm
{
    /// <summary>Where test guests are loaded and entered.</summary>
    public const ulong Origin = 0x10_0000;

    /// <summary>A private data page well away from the code, for guests that need scratch memory.</summary>
    public const ulong DataPage = 0x20_0000;

    /// <summary>The shared bit (GPAW 48).</summary>
    public const ulong SharedBit = GuestPhysical.SharedBit;

    /// <summary>GPR_SELECT of the selftest library's TDVMCALLs: R10 to R15.</summary>
    public const ushort Select = 0xFC00;

    /// <summary>The selftest success and report ports.</summary>
    public const byte SuccessPort = 0x30;

    /// <inheritdoc cref="SuccessPort"/>
    public const byte ReportPort = 0x31;

    /// <summary>The debug-exit port.</summary>
    public const byte DebugExitPort = 0xF4;

    /// <summary>The MMIO test device and the I/O APIC, as shared GPAs.</summary>
    public const ulong TestDevice = SharedBit | 0xFEB0_0000;

    /// <inheritdoc cref="TestDevice"/>
    public const ulong IoApic = SharedBit | 0xFEC0_0000;

    /// <summary>COM1 and its scratch register (16550 SCR, COM1 + 7).</summary>
    public const ushort Com1 = 0x3F8;

    /// <inheritdoc cref="Com1"/>
    public const ushort UartScratch = 0x3FF;

    /// <summary>
    /// TDG.VP.VMCALL with R12..R15 already loaded: RAX = 0 (leaf), RCX = <paramref name="select"/>, R10 = 0 (GHCI),
    /// R11 = <paramref name="subfunction"/>. Afterwards RAX = TDCALL status, R10 = TDVMCALL status, R11.. = outputs.
    /// </summary>
    public static void TdvmcallLoaded(this Assembler a, ulong subfunction, ulong select = Select)
    {
        a.mov(r11, subfunction);
        a.xor(r10d, r10d);
        a.mov(rcx, select);
        a.xor(eax, eax);
        a.tdcall();
    }

    /// <summary>TDG.VP.VMCALL&lt;<paramref name="subfunction"/>&gt; with immediate arguments in R12..R15.</summary>
    public static void Tdvmcall(this Assembler a, TdVmcallSubfunction subfunction, ulong arg12 = 0, ulong arg13 = 0, ulong arg14 = 0, ulong arg15 = 0, ulong select = Select)
        => a.Tdvmcall((ulong)subfunction, arg12, arg13, arg14, arg15, select);

    /// <inheritdoc cref="Tdvmcall(Assembler, TdVmcallSubfunction, ulong, ulong, ulong, ulong, ulong)"/>
    public static void Tdvmcall(this Assembler a, ulong subfunction, ulong arg12 = 0, ulong arg13 = 0, ulong arg14 = 0, ulong arg15 = 0, ulong select = Select)
    {
        a.mov(r12, arg12);
        a.mov(r13, arg13);
        a.mov(r14, arg14);
        a.mov(r15, arg15);
        a.TdvmcallLoaded(subfunction, select);
    }

    /// <summary>A raw TDCALL of <paramref name="leaf"/> with RCX, RDX, R8 as given (RAX = leaf).</summary>
    public static void Tdcall(this Assembler a, TdcallLeaf leaf, ulong rcxValue = 0, ulong rdxValue = 0, ulong r8Value = 0)
    {
        a.mov(rcx, rcxValue);
        a.mov(rdx, rdxValue);
        a.mov(r8, r8Value);
        a.mov(eax, (uint)leaf);
        a.tdcall();
    }

    /// <summary>
    /// Reports the low 32 bits of <paramref name="value"/> with TDG.VP.VMCALL&lt;Instruction.IO&gt; OUT, port 0x31,
    /// size 4 (the selftests' report). Every register is preserved.
    /// </summary>
    public static void Report(this Assembler a, AssemblerRegister64 value)
    {
        AssemblerRegister64[] saved = [rax, rcx, r10, r11, r12, r13, r14, r15];
        foreach (AssemblerRegister64 r in saved)
        {
            a.push(r);
        }

        a.mov(r15, value);
        a.mov(r12d, 4);
        a.mov(r13d, (uint)TdVmcall.IoDirectionOut);
        a.mov(r14d, ReportPort);
        a.TdvmcallLoaded((ulong)TdVmcallSubfunction.InstructionIo);
        for (int i = saved.Length - 1; i >= 0; i--)
        {
            a.pop(saved[i]);
        }
    }

    /// <summary>Reports a 64-bit value as two 4-byte reports, low half first. Every register is preserved.</summary>
    public static void Report64(this Assembler a, AssemblerRegister64 value)
    {
        a.Report(value);
        a.push(rax);
        a.mov(rax, value);
        a.shr(rax, 32);
        a.Report(rax);
        a.pop(rax);
    }

    /// <summary>Reports an immediate value (e.g. a sync point of the UPM test).</summary>
    public static void ReportValue(this Assembler a, uint value)
    {
        a.push(rax);
        a.mov(eax, value);
        a.Report(rax);
        a.pop(rax);
    }

    /// <summary>Selftest success: TDG.VP.VMCALL&lt;Instruction.IO&gt; OUT port 0x30, size 4, value 0; then halts.</summary>
    public static void Success(this Assembler a)
    {
        a.Tdvmcall(TdVmcallSubfunction.InstructionIo, 4, TdVmcall.IoDirectionOut, SuccessPort, 0);
        a.HaltForever();
    }

    /// <summary><c>cli; hlt</c> in a loop: the vCPU halts with interrupts disabled.</summary>
    public static void HaltForever(this Assembler a)
    {
        // The label goes on HLT, not on the first instruction: Iced allows one label per instruction and callers
        // often label the place this idiom starts.
        Label again = a.CreateLabel();
        a.cli();
        a.Label(ref again);
        a.hlt();
        a.jmp(again);
    }

    /// <summary>Writes <paramref name="value"/> to the debug-exit port with a plain OUT (exit status (v &lt;&lt; 1) | 1), then halts.</summary>
    public static void DebugExit(this Assembler a, byte value)
    {
        a.mov(al, value);
        a.@out(DebugExitPort, al);
        a.HaltForever();
    }

    /// <summary>TDG.VP.VMCALL&lt;ReportFatalError&gt; with R12 = <paramref name="code"/>, R13 = 0 (no data GPA).</summary>
    public static void ReportFatalError(this Assembler a, AssemblerRegister64 code)
    {
        a.mov(r12, code);
        a.xor(r13d, r13d);
        a.xor(r14d, r14d);
        a.xor(r15d, r15d);
        a.TdvmcallLoaded((ulong)TdVmcallSubfunction.ReportFatalError);
    }

    /// <summary>
    /// Unless R10 (the TDVMCALL status) is SUCCESS, reports it fatally as the selftests do
    /// (ReportFatalError with R12 = the status) and halts.
    /// </summary>
    public static void FatalUnlessSuccess(this Assembler a)
    {
        Label ok = a.CreateLabel();
        a.test(r10, r10);
        a.jz(ok);
        a.ReportFatalError(r10);
        a.HaltForever();
        a.Label(ref ok);
        a.nop(); // carries the label, so a caller may place its own label next
    }

    /// <summary>Jumps to a debug exit with <paramref name="code"/> unless <paramref name="reg"/> equals <paramref name="expected"/>.</summary>
    public static void Expect(this Assembler a, AssemblerRegister64 reg, ulong expected, byte code)
    {
        AssemblerRegister64 temp = reg == rax ? rcx : rax;
        Label ok = a.CreateLabel();
        a.push(temp);
        a.mov(temp, expected);
        a.cmp(reg, temp);
        a.pop(temp);
        a.je(ok);
        a.DebugExit(code);
        a.Label(ref ok);
        a.nop(); // carries the label, so a caller may place its own label next
    }

    /// <summary>Fills <paramref name="qwords"/> quadwords at <paramref name="start"/> with <paramref name="pattern"/> (REP STOSQ). Clobbers RAX, RCX, RDI.</summary>
    public static void Fill(this Assembler a, ulong start, ulong qwords, ulong pattern)
    {
        a.mov(rdi, start);
        a.mov(rcx, qwords);
        a.mov(rax, pattern);
        a.cld();
        a.rep.stosq();
    }

    /// <summary>
    /// Debug-exits with <paramref name="code"/> unless every one of <paramref name="qwords"/> quadwords at
    /// <paramref name="start"/> equals <paramref name="pattern"/> (REPE SCASQ). Clobbers RAX, RCX, RDI.
    /// </summary>
    public static void ExpectFilled(this Assembler a, ulong start, ulong qwords, ulong pattern, byte code)
    {
        Label ok = a.CreateLabel();
        a.mov(rdi, start);
        a.mov(rcx, qwords);
        a.mov(rax, pattern);
        a.cld();
        a.repe.scasq();
        a.je(ok);
        a.DebugExit(code);
        a.Label(ref ok);
        a.nop(); // carries the label, so a caller may place its own label next
    }
}
