using Iced.Intel;
using static Iced.Intel.AssemblerRegisters;

namespace TdxSim.Images.Guests;

/// <summary>
/// The built-in demo guest. Every vCPU says hello on COM1; then vCPU 0 walks TDX's paths twice,
/// first with plain instructions that raise #VE (the guest kernel emulates them), then with direct
/// paravirt TDCALLs, prints what each step returned, and checks that both walks produced the same
/// device-visible results. It ends by halting every vCPU with interrupts disabled (exit status 0), or,
/// for the single-vCPU <c>demo</c> guest, through the debug-exit port 0xF4.
/// </summary>
/// <remarks>
/// Steps of a walk: CPUID 0x40000000 (the VMM's hypervisor leaf), RDMSR of the x2APIC ID, WRMSR and
/// RDMSR of the x2APIC SPIV, TDG.VP.INFO, the I/O APIC version through MMIO, the MMIO test device's
/// scratch register, PCI configuration mechanism #1, and a page converted to shared (MapGPA), written
/// and read through its shared alias, converted back to private and found zeroed after acceptance
/// (lazily, by #VE, on the first walk; by TDG.MEM.PAGE.ACCEPT on the second).
/// </remarks>
public static class TourGuest
{
    /// <summary>Where the guest is loaded.</summary>
    public const ulong Origin = 0x10_0000;

    /// <summary>The page the first walk converts (the second uses the next page).</summary>
    public const ulong ConversionPage = 0x20_0000;

    /// <summary>Debug-exit value when the two walks disagree.</summary>
    public const byte MismatchExitValue = 0x10;

    /// <summary>Debug-exit value when a TDVMCALL failed.</summary>
    public const byte TdvmcallFailedExitValue = 0x7F;

    private const ulong SharedBit = 1UL << 47;
    private const ulong IoApic = 0xFEC0_0000;
    private const ulong TestDevice = 0xFEB0_0000;
    private const int ResultSlots = 12;

    /// <summary>Builds the guest. <paramref name="exitThroughDebugPort"/> selects the <c>demo</c> ending.</summary>
    public static GuestProgram Build(bool exitThroughDebugPort)
        => GuestProgram.Assemble(Origin, (GuestProgram.Builder b) => Emit(b, exitThroughDebugPort));

    private static void Emit(GuestProgram.Builder b, bool exitThroughDebugPort)
    {
        Assembler a = b.Asm;
        var strings = new StringPool(a);
        Label fail = a.CreateLabel("tdvmcall_failed");
        var ve = new GuestIo(a, IoPath.Ve, fail);
        var pv = new GuestIo(a, IoPath.Paravirt, fail);

        Label lockWord = a.CreateLabel("uart_lock");
        Label helloCount = a.CreateLabel("hello_count");
        Label resultsVe = b.Symbol("results_ve");
        Label resultsPv = b.Symbol("results_pv");
        Label text = a.CreateLabel("text_buffer");
        Label acquire = a.CreateLabel("acquire");
        Label release = a.CreateLabel("release");
        Label halt = a.CreateLabel("halt");
        Label waitHellos = a.CreateLabel();

        // Entry: RDI = vCPU index, RSI = number of vCPUs (contract section 3).
        b.Define("entry");
        a.mov(r12, rdi);
        a.mov(r13, rsi);
        a.call(acquire);
        ve.Print(strings, "hello from vCPU ");
        a.mov(rax, r12);
        a.call(ve.PutDec);
        ve.Print(strings, " of ");
        a.mov(rax, r13);
        a.call(ve.PutDec);
        ve.Print(strings, "\n");
        a.call(release);
        a.@lock.inc(__dword_ptr[helloCount]);
        a.test(r12, r12);
        a.jnz(halt);

        // vCPU 0 waits for every hello, so its walk is not interleaved with them.
        a.Label(ref waitHellos);
        a.pause();
        a.mov(eax, __dword_ptr[helloCount]);
        a.cmp(eax, r13d);
        a.jb(waitHellos);

        EmitWalk(a, strings, ve, resultsVe, text, ConversionPage);
        EmitWalk(a, strings, pv, resultsPv, text, ConversionPage + 0x1000);
        EmitCompare(a, strings, ve, resultsVe, resultsPv, halt, exitThroughDebugPort);

        a.Label(ref halt);
        a.cli();
        a.hlt();
        a.jmp(halt);

        // A TDVMCALL failed: say which (R11 sub-function, R10 status) and leave through the debug port.
        a.Label(ref fail);
        ve.Print(strings, "TDVMCALL failed: sub-function 0x");
        a.mov(rax, r11);
        ve.PrintHex(5);
        ve.Print(strings, " status 0x");
        a.mov(rax, r10);
        ve.PrintHex(16);
        ve.Print(strings, "\n");
        a.mov(al, TdvmcallFailedExitValue);
        a.@out(0xF4, al);
        a.jmp(halt);

        // A test-and-set spinlock keeps each hello line whole.
        Label spin = a.CreateLabel();
        Label retry = a.CreateLabel();
        a.Label(ref acquire);
        a.push(rax);
        a.Label(ref retry);
        a.mov(eax, 1);
        a.xchg(__dword_ptr[lockWord], eax);
        a.test(eax, eax);
        a.jz(spin);
        a.pause();
        a.jmp(retry);
        a.Label(ref spin);
        a.pop(rax);
        a.ret();
        a.Label(ref release);
        a.mov(__dword_ptr[lockWord], 0);
        a.ret();

        ve.EmitRoutines();
        pv.EmitRoutines();
        strings.Emit();

        a.Label(ref lockWord);
        a.dd(0u);
        a.Label(ref helloCount);
        a.dd(0u);
        a.Label(ref text);
        a.db(new byte[16]);
        a.Label(ref resultsVe);
        a.db(new byte[ResultSlots * 8]);
        a.Label(ref resultsPv);
        a.db(new byte[ResultSlots * 8]);
    }

    private static void EmitWalk(Assembler a, StringPool strings, GuestIo io, Label results, Label text, ulong page)
    {
        string tag = io.Path == IoPath.Ve ? "#VE" : "paravirt";
        io.Print(strings, io.Path == IoPath.Ve ? "== walk 1 of 2: #VE ==\n" : "== walk 2 of 2: paravirt TDCALL ==\n");
        a.lea(rbp, __[results]);

        // CPUID 0x40000000: the VMM's hypervisor leaf, by #VE + Instruction.CPUID or directly.
        io.Print(strings, $"[{tag}] CPUID 0x40000000: \"");
        a.mov(eax, 0x4000_0000);
        a.xor(ecx, ecx);
        a.call(io.Cpuid);
        a.lea(rdi, __[text]);
        a.mov(__dword_ptr[rdi], ebx);
        a.mov(__dword_ptr[rdi + 4], ecx);
        a.mov(__dword_ptr[rdi + 8], edx);
        a.mov(__byte_ptr[rdi + 12], 0);
        a.push(rsi);
        a.mov(rsi, rdi);
        a.call(io.Puts);
        a.pop(rsi);
        a.mov(__dword_ptr[rbp], ebx);
        a.mov(__dword_ptr[rbp + 4], ecx);
        a.mov(__dword_ptr[rbp + 8], edx);
        io.Print(strings, "\"\n");

        // RDMSR x2APIC ID, WRMSR/RDMSR x2APIC SPIV: MSRs the TDX module leaves to the VMM.
        io.Print(strings, $"[{tag}] RDMSR 0x802 (x2APIC ID) = 0x");
        a.mov(ecx, 0x802);
        a.call(io.RdMsr);
        a.mov(__qword_ptr[rbp + 16], rax);
        io.PrintHex(16);
        io.Print(strings, "\n");
        io.Print(strings, $"[{tag}] WRMSR 0x80f (x2APIC SPIV) = 0x1ff, read back 0x");
        a.mov(ecx, 0x80F);
        a.mov(eax, 0x1FF);
        a.call(io.WrMsr);
        a.call(io.RdMsr);
        a.mov(__qword_ptr[rbp + 24], rax);
        io.PrintHex(8);
        io.Print(strings, "\n");

        // TDG.VP.INFO is a TDCALL on both walks.
        io.Print(strings, $"[{tag}] TDG.VP.INFO: GPAW ");
        SaveVpInfoOutputs(a);
        a.mov(eax, 1);
        a.tdcall();
        a.mov(rax, rcx);
        a.call(io.PutDec);
        io.Print(strings, ", vCPUs ");
        a.mov(eax, r8d);
        a.call(io.PutDec);
        io.Print(strings, ", this vCPU ");
        a.mov(rax, r9);
        a.call(io.PutDec);
        io.Print(strings, "\n");
        RestoreVpInfoOutputs(a);

        // I/O APIC version through MMIO: IOREGSEL = 1, then IOWIN.
        io.Print(strings, $"[{tag}] I/O APIC version register = 0x");
        a.mov(rdi, SharedBit | IoApic);
        a.mov(eax, 1);
        a.call(io.MmioWrite32);
        a.mov(rdi, SharedBit | (IoApic + 0x10));
        a.call(io.MmioRead32);
        a.mov(__qword_ptr[rbp + 32], rax);
        io.PrintHex(8);
        io.Print(strings, "\n");

        // MMIO test device: 8-byte scratch write and read back.
        io.Print(strings, $"[{tag}] test device scratch = 0x");
        a.mov(rdi, SharedBit | TestDevice);
        a.mov(rax, 0x1122_3344_5566_7788UL);
        a.call(io.MmioWrite64);
        a.call(io.MmioRead64);
        a.mov(__qword_ptr[rbp + 40], rax);
        io.PrintHex(16);
        io.Print(strings, "\n");

        // PCI configuration mechanism #1: vendor and device of 00:00.0.
        io.Print(strings, $"[{tag}] PCI 00:00.0 vendor:device = ");
        a.mov(edx, 0xCF8);
        a.mov(eax, 0x8000_0000);
        a.call(io.OutD);
        a.mov(edx, 0xCFC);
        a.call(io.InD);
        a.mov(__qword_ptr[rbp + 48], rax);
        a.push(rax);
        io.PrintHex(4);
        io.Print(strings, ":");
        a.pop(rax);
        a.shr(eax, 16);
        io.PrintHex(4);
        io.Print(strings, "\n");

        // Page conversion: private → shared (MapGPA), use it, shared → private, accept, read zero.
        io.Print(strings, $"[{tag}] page 0x{page:x}: MapGPA to shared, wrote/read 0x");
        a.mov(rdi, page);
        a.mov(rax, 0x5A5A_5A5A_5A5A_5A5AUL);
        a.mov(__qword_ptr[rdi], rax);      // private contents, to be lost by the conversion
        EmitMapGpa(a, io, page | SharedBit);
        a.mov(rdi, page | SharedBit);
        a.mov(rax, 0xCAFE_F00D_CAFE_F00DUL);
        a.mov(__qword_ptr[rdi], rax);
        a.mov(rax, __qword_ptr[rdi]);
        a.mov(__qword_ptr[rbp + 56], rax);
        io.PrintHex(16);
        EmitMapGpa(a, io, page);
        Label accepted = a.CreateLabel();
        if (io.Path == IoPath.Ve)
        {
            // The #VE walk leaves the page pending so that the next load takes an EPT-violation #VE and the
            // kernel accepts it, unless the TD has SEPT_VE_DISABLE: then no #VE can come and touching the
            // pending page kills the TD, so accept it explicitly, as Linux always does after MapGPA to private
            // (TDG.VP.INFO: RDX = TD ATTRIBUTES).
            SaveVpInfoOutputs(a);
            a.mov(eax, 1);
            a.tdcall();
            a.bt(rdx, 28);
            RestoreVpInfoOutputs(a);
            a.jnc(accepted);
        }

        // TDG.MEM.PAGE.ACCEPT, 4 KiB.
        a.push(rcx);
        a.mov(eax, 6);
        a.mov(rcx, page);
        a.tdcall();
        a.pop(rcx);
        a.Label(ref accepted);

        // On the #VE walk (without SEPT_VE_DISABLE) this load takes an EPT-violation #VE on the pending page;
        // the kernel accepts it.
        a.mov(rdi, page);
        a.mov(rax, __qword_ptr[rdi]);
        a.mov(__qword_ptr[rbp + 64], rax);
        io.Print(strings, "; back to private, reads 0x");
        io.PrintHex(16);
        io.Print(strings, "\n");
    }

    /// <summary>Pushes the registers TDG.VP.INFO writes besides RAX (RCX, RDX, R8-R11).</summary>
    private static void SaveVpInfoOutputs(Assembler a)
    {
        a.push(rcx);
        a.push(rdx);
        a.push(r8);
        a.push(r9);
        a.push(r10);
        a.push(r11);
    }

    /// <summary>Pops what <see cref="SaveVpInfoOutputs"/> pushed; flags are left as they are.</summary>
    private static void RestoreVpInfoOutputs(Assembler a)
    {
        a.pop(r11);
        a.pop(r10);
        a.pop(r9);
        a.pop(r8);
        a.pop(rdx);
        a.pop(rcx);
    }

    /// <summary>
    /// MapGPA of one page as Linux's <c>tdx_map_gpa()</c> does it (reference 2.5): on TDVMCALL_STATUS_RETRY, R11 says
    /// where to resume; it must lie inside the range; a retry without progress counts, and after three of them in a
    /// row the conversion fails (to the failure handler with R10 = the status), as does any status but RETRY and
    /// SUCCESS. The loop's own state lives in registers the TDVMCALL does not expose (RSI, RDI, RDX).
    /// </summary>
    private static void EmitMapGpa(Assembler a, GuestIo io, ulong gpa)
    {
        // MapGPA: R11 = 0x10001, R12 = start GPA (shared bit chooses the direction), R13 = size.
        const int maxRetriesPerPage = 3;
        Label loop = a.CreateLabel();
        Label noProgress = a.CreateLabel();
        Label failed = a.CreateLabel();
        Label done = a.CreateLabel();
        a.push(r10);
        a.push(r11);
        a.push(r12);
        a.push(r13);
        a.push(r14);
        a.push(r15);
        a.push(rcx);
        a.push(rsi);
        a.push(rdi);
        a.push(rdx);
        a.mov(rsi, gpa);
        a.mov(rdi, gpa + 0x1000);
        a.xor(edx, edx);
        a.Label(ref loop);
        a.mov(r11d, 0x10001);
        a.mov(r12, rsi);
        a.mov(r13, rdi);
        a.sub(r13, rsi);
        a.xor(r14d, r14d);
        a.xor(r15d, r15d);
        a.call(io.TdvmcallStatus);
        a.test(r10, r10);
        a.jz(done);
        a.cmp(r10, 1);                       // TDVMCALL_STATUS_RETRY
        a.jne(failed);
        a.cmp(r11, rsi);
        a.jb(failed);
        a.je(noProgress);
        a.cmp(r11, rdi);
        a.jae(failed);
        a.mov(rsi, r11);                     // progress: resume there, the count starts again
        a.xor(edx, edx);
        a.jmp(loop);
        a.Label(ref noProgress);
        a.inc(edx);
        a.cmp(edx, maxRetriesPerPage);
        a.jb(loop);
        a.Label(ref failed);
        a.mov(r11d, 0x10001);
        a.jmp(io.Fail);
        a.Label(ref done);
        a.pop(rdx);
        a.pop(rdi);
        a.pop(rsi);
        a.pop(rcx);
        a.pop(r15);
        a.pop(r14);
        a.pop(r13);
        a.pop(r12);
        a.pop(r11);
        a.pop(r10);
    }

    private static void EmitCompare(Assembler a, StringPool strings, GuestIo io, Label ve, Label pv, Label finish, bool debugExit)
    {
        Label loop = a.CreateLabel();
        Label differ = a.CreateLabel();
        Label same = a.CreateLabel();
        a.lea(rsi, __[ve]);
        a.lea(rdi, __[pv]);
        a.xor(ecx, ecx);
        a.Label(ref loop);
        a.mov(rax, __qword_ptr[rsi + rcx * 8]);
        a.cmp(rax, __qword_ptr[rdi + rcx * 8]);
        a.jne(differ);
        a.inc(ecx);
        a.cmp(ecx, 9);
        a.jb(loop);
        a.Label(ref same);
        io.Print(strings, "both walks saw the same device-visible results\n");
        if (debugExit)
        {
            a.xor(eax, eax);
            a.@out(0xF4, al);
        }

        a.jmp(finish);
        a.Label(ref differ);
        io.Print(strings, "MISMATCH between the #VE and paravirt walks at result ");
        a.mov(eax, ecx);
        a.call(io.PutDec);
        io.Print(strings, "\n");
        a.mov(al, MismatchExitValue);
        a.@out(0xF4, al);
        a.jmp(finish);
    }
}
