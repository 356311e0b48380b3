using Iced.Intel;
using static Iced.Intel.AssemblerRegisters;

namespace TdxSim.Images.Guests;

/// <summary>The operation a stress guest repeats (contract section 4, <c>--op</c>).</summary>
public enum StressOp
{
    /// <summary>A 1-byte OUT to the UART scratch register (port 0x3FF).</summary>
    Pio,

    /// <summary>A 4-byte MMIO write to the test device's scratch register (shared 0xFEB00000).</summary>
    Mmio,

    /// <summary>CPUID of the hypervisor leaf 0x40000000 (answered by the VMM).</summary>
    Cpuid,

    /// <summary>RDMSR of the x2APIC SPIV (0x80F), answered by the VMM.</summary>
    Msr,

    /// <summary>A bare TDG.VP.VMCALL&lt;GetTdVmCallInfo&gt;: the cheapest host round trip (paravirt only).</summary>
    Vmcall,
}

/// <summary>
/// Guests for <c>tdxsim stress</c>: every vCPU repeats one operation a given number of times (or forever) by
/// #VE (plain instructions) or by paravirt TDCALL, then halts with interrupts disabled.
/// </summary>
public static class StressGuest
{
    /// <summary>Where stress guests load.</summary>
    public const ulong Origin = 0x10_0000;

    private const ulong SharedBit = 1UL << 47;
    private const ulong TestDeviceScratch = 0xFEB0_0000;
    private const ushort UartScratchPort = 0x3FF;

    /// <summary>True when <paramref name="op"/> exists on <paramref name="path"/>.</summary>
    public static bool Supports(StressOp op, IoPath path) => op != StressOp.Vmcall || path == IoPath.Paravirt;

    /// <summary>
    /// Builds the guest. vCPU i repeats the operation <c>counts[i]</c> times; an empty <paramref name="counts"/>
    /// means forever (the run is then ended by a time limit).
    /// </summary>
    public static GuestProgram Build(StressOp op, IoPath path, IReadOnlyList<ulong> counts)
    {
        ArgumentNullException.ThrowIfNull(counts);
        if (!Supports(op, path))
        {
            throw new ArgumentException($"operation {op} has no #VE form: a VMCALL instruction in a TD is an unexpected #VE", nameof(op));
        }

        return GuestProgram.Assemble(Origin, (GuestProgram.Builder b) => Emit(b.Asm, op, path, counts));
    }

    private static void Emit(Assembler a, StressOp op, IoPath path, IReadOnlyList<ulong> counts)
    {
        Label table = a.CreateLabel("counts");
        Label loop = a.CreateLabel("loop");
        Label done = a.CreateLabel("done");
        Label fail = a.CreateLabel("fail");
        bool forever = counts.Count == 0;

        // RBP = this vCPU's count (from the table, by RDI = vCPU index): no operation writes RBP (CPUID writes
        // EAX..EDX, RDMSR EDX:EAX, the TDVMCALLs R10..R15).
        if (!forever)
        {
            a.lea(rax, __[table]);
            a.mov(rbp, __qword_ptr[rax + rdi * 8]);
            a.test(rbp, rbp);
            a.jz(done);
        }

        a.mov(rdi, SharedBit | TestDeviceScratch);
        a.Label(ref loop);
        if (path == IoPath.Ve)
        {
            EmitVe(a, op);
        }
        else
        {
            EmitParavirt(a, op, fail);
        }

        if (forever)
        {
            a.jmp(loop);
        }
        else
        {
            a.dec(rbp);
            a.jnz(loop);
        }

        a.Label(ref done);
        a.cli();
        a.hlt();
        a.jmp(done);

        // A failed TDVMCALL: leave through the debug port with 0x7F (exit status 0xFF).
        a.Label(ref fail);
        a.mov(al, TourGuest.TdvmcallFailedExitValue);
        a.@out(0xF4, al);
        a.jmp(done);

        a.Label(ref table);
        if (forever)
        {
            a.dq(0UL);
        }
        else
        {
            foreach (ulong n in counts)
            {
                a.dq(n);
            }
        }
    }

    private static void EmitVe(Assembler a, StressOp op)
    {
        switch (op)
        {
            case StressOp.Pio:
                a.mov(edx, UartScratchPort);
                a.mov(eax, ebp);
                a.@out(dx, al);
                break;
            case StressOp.Mmio:
                a.mov(eax, ebp);
                a.mov(__dword_ptr[rdi], eax);
                break;
            case StressOp.Cpuid:
                a.mov(eax, 0x4000_0000);
                a.xor(ecx, ecx);
                a.cpuid();
                break;
            default:
                a.mov(ecx, 0x80F);
                a.rdmsr();
                break;
        }
    }

    private static void EmitParavirt(Assembler a, StressOp op, Label fail)
    {
        // TDG.VP.VMCALL with GPR_SELECT = R10..R15: the registers are reloaded on every iteration, since the
        // VMM's outputs come back in the selected registers.
        a.xor(eax, eax);
        a.mov(ecx, GuestIo.ParavirtSelect);
        a.xor(r10d, r10d);
        switch (op)
        {
            case StressOp.Pio:
                a.mov(r11d, 30);                // Instruction.IO
                a.mov(r12d, 1);                 // size
                a.mov(r13d, 1);                 // out
                a.mov(r14d, UartScratchPort);
                a.mov(r15d, ebp);
                break;
            case StressOp.Mmio:
                a.mov(r11d, 48);                // #VE.RequestMMIO
                a.mov(r12d, 4);
                a.mov(r13d, 1);                 // write
                a.mov(r14, rdi);
                a.mov(r15d, ebp);
                break;
            case StressOp.Cpuid:
                a.mov(r11d, 10);                // Instruction.CPUID
                a.mov(r12d, 0x4000_0000);
                a.xor(r13d, r13d);
                break;
            case StressOp.Msr:
                a.mov(r11d, 31);                // Instruction.RDMSR
                a.mov(r12d, 0x80F);
                break;
            default:
                a.mov(r11d, 0x10000);           // GetTdVmCallInfo
                a.xor(r12d, r12d);
                break;
        }

        a.tdcall();
        a.test(rax, rax);
        a.jnz(fail);
        a.test(r10, r10);
        a.jnz(fail);
    }
}
