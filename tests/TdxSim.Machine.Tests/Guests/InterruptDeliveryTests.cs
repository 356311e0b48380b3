using System.Buffers.Binary;
using System.Text.Json;
using Iced.Intel;
using TdxSim.Images;
using TdxSim.Machine.Tests.Cli;
using static Iced.Intel.AssemblerRegisters;

namespace TdxSim.Machine.Tests.Guests;

/// <summary>
/// Interrupt delivery end to end with a small purpose-built kernel, booted as a bzImage so that it owns its IDT as
/// Linux does: its APIC timer (TSC-deadline mode, programmed by TDVMCALL&lt;Instruction.WRMSR&gt; to the VMM) wakes
/// it from TDVMCALL&lt;Instruction.HLT&gt; three times through its own IDT, and with two vCPUs it wakes the AP
/// through the MP wakeup mailbox and the two exchange fixed IPIs by ICR writes. Each interrupt enters the TD as a
/// posted interrupt, is delivered by the CPU's virtual APIC and EOIed there.
/// </summary>
public sealed class InterruptDeliveryTests
{
    private const ulong Load = 0x100_0000;
    private const ulong Idt = 0x200_0000;
    private const ulong Data = 0x201_0000;
    private const ulong Idtr = Data + 0x100;
    private const ulong TickCount = Data, ApReady = Data + 8, ApGotIpi = Data + 16, BspGotIpi = Data + 24;
    private const byte TimerVector = 0x30, ApIpiVector = 0x40, BspIpiVector = 0x41;

    [Fact]
    public void Timer_interrupts_wake_the_halted_vcpu_through_its_idt()
    {
        using var cli = new CliHarness();
        string state = Path.Combine(cli.Folder, "state.json");
        CliResult r = CliHarness.Run("run", "--kernel", WriteKernel(cli, smp: false), "--dump-state", state, "--quiet", "--max-instructions", "50000000");

        Assert.True(r.Status == 0, $"status {r.Status}; stderr: {r.Stderr}");
        Dictionary<string, long> c = Counters(state);
        Assert.True(c["vcpu0.interrupts"] >= 3, $"{c["vcpu0.interrupts"]} interrupts");
        Assert.True(c["vmm.timer_interrupts"] >= 3);
        Assert.Contains("0x3", Reports(state));
    }

    [Fact]
    public void Two_vcpus_exchange_ipis_after_the_mp_wakeup()
    {
        using var cli = new CliHarness();
        string state = Path.Combine(cli.Folder, "state.json");
        CliResult r = CliHarness.Run("run", "--kernel", WriteKernel(cli, smp: true), "--vcpus", "2", "--dump-state", state, "--quiet",
            "--max-instructions", "200000000");

        Assert.True(r.Status == 0, $"status {r.Status}; stderr: {r.Stderr}");
        Dictionary<string, long> c = Counters(state);
        Assert.Equal(2, c["vmm.ipis"]);
        Assert.True(c["vcpu1.interrupts"] >= 1);
        Assert.Contains("0x1234", Reports(state));
    }

    [Fact]
    public void Deterministic_runs_with_interrupts_are_byte_identical()
    {
        using var cli = new CliHarness();
        string kernel = WriteKernel(cli, smp: true);
        string[] Run(int n)
        {
            string state = Path.Combine(cli.Folder, $"state{n}.json");
            string log = Path.Combine(cli.Folder, $"log{n}.jsonl");
            CliResult r = CliHarness.Run("run", "--kernel", kernel, "--vcpus", "2", "--deterministic", "--seed", "7",
                "--dump-state", state, "--log", log, "--quiet", "--max-instructions", "200000000");
            Assert.True(r.Status == 0, $"status {r.Status}; stderr: {r.Stderr}");
            return [File.ReadAllText(state), File.ReadAllText(log)];
        }

        string[] a = Run(1);
        string[] b = Run(2);
        Assert.Equal(a[0], b[0]);
        Assert.True(a[1] == b[1], "the message logs differ");
        Assert.Contains("PostedInterrupt", a[1], StringComparison.Ordinal);
    }

    private static Dictionary<string, long> Counters(string state)
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(state));
        return doc.RootElement.GetProperty("counters").EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetInt64());
    }

    private static List<string> Reports(string state)
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(state));
        return [.. doc.RootElement.GetProperty("reports").EnumerateArray().Select(e => e.GetString()!)];
    }

    private static string WriteKernel(CliHarness cli, bool smp)
    {
        GuestProgram code = GuestProgram.Assemble(Load + 0x200, a => Kernel(a, smp));
        var payload = new byte[0x200 + code.Code.Length];
        code.Code.CopyTo(payload, 0x200);
        string path = Path.Combine(cli.Folder, smp ? "irq-smp.bzimage" : "irq.bzimage");
        File.WriteAllBytes(path, BzImage(payload));
        return path;
    }

    /// <summary>A minimal bzImage: one setup sector, protocol 2.15, 64-bit entry, loaded at 16 MiB.</summary>
    private static byte[] BzImage(byte[] payload)
    {
        var b = new byte[(2 * 512) + payload.Length];
        Span<byte> s = b;
        s[0x1F1] = 1;
        BinaryPrimitives.WriteUInt16LittleEndian(s[0x1FE..], 0xAA55);
        s[0x200] = 0xEB;
        s[0x201] = 0x6A;
        BinaryPrimitives.WriteUInt32LittleEndian(s[0x202..], 0x53726448); // "HdrS"
        BinaryPrimitives.WriteUInt16LittleEndian(s[0x206..], 0x020F);
        s[0x211] = 1;
        BinaryPrimitives.WriteUInt32LittleEndian(s[0x214..], 0x100000);
        BinaryPrimitives.WriteUInt32LittleEndian(s[0x22C..], 0x7FFF_FFFF);
        BinaryPrimitives.WriteUInt32LittleEndian(s[0x230..], 0x20_0000);
        s[0x234] = 1;
        BinaryPrimitives.WriteUInt16LittleEndian(s[0x236..], 0x3);          // XLF_KERNEL_64
        BinaryPrimitives.WriteUInt32LittleEndian(s[0x238..], 0x7FF);
        BinaryPrimitives.WriteUInt64LittleEndian(s[0x258..], Load);
        BinaryPrimitives.WriteUInt32LittleEndian(s[0x260..], 0x40_0000);
        payload.CopyTo(b, 1024);
        return b;
    }

    /// <summary>TDG.VP.VMCALL with R10 = 0, R11 = <paramref name="subfunction"/>, R12, R13 (R13 from RAX when null), R14, R15.</summary>
    private static void Vmcall(Assembler a, uint subfunction, ulong v12, ulong? v13 = 0, ulong v14 = 0, ulong v15 = 0)
    {
        if (v13 is ulong v)
        {
            a.mov(r13, v);
        }
        else
        {
            a.mov(r13, rax);
        }

        a.mov(r12, v12);
        a.mov(r14, v14);
        a.mov(r15, v15);
        a.xor(eax, eax);
        a.mov(ecx, 0xFC00);
        a.xor(r10d, r10d);
        a.mov(r11d, subfunction);
        a.tdcall();
    }

    private static void Wrmsr(Assembler a, uint msr, ulong value) => Vmcall(a, 32, msr, value);

    private static void Halt(Assembler a, bool interruptsBlocked) => Vmcall(a, 12, interruptsBlocked ? 1UL : 0UL);

    private static void Report(Assembler a, ulong? value) // port 0x31, 4 bytes; RAX when null
    {
        if (value is ulong v)
        {
            a.mov(r15, v);
        }
        else
        {
            a.mov(r15, rax);
        }

        a.mov(r12, 4UL);
        a.mov(r13, 1UL);
        a.mov(r14, 0x31UL);
        a.xor(eax, eax);
        a.mov(ecx, 0xFC00);
        a.xor(r10d, r10d);
        a.mov(r11d, 30);
        a.tdcall();
    }

    /// <summary>Halts until the qword at <paramref name="flag"/> is at least RBX, the way Linux's TDX idle does:
    /// TDVMCALL&lt;HLT&gt; with interrupts off, then STI so the pending interrupt comes after one instruction.</summary>
    private static void WaitFor(Assembler a, ulong flag)
    {
        Label again = a.CreateLabel(), done = a.CreateLabel();
        a.Label(ref again);
        a.cli();
        a.mov(rax, flag);
        a.cmp(__qword_ptr[rax], rbx);
        a.jae(done);
        Halt(a, interruptsBlocked: false);
        a.sti();
        a.nop();
        a.jmp(again);
        a.Label(ref done);
    }

    private static void Gate(Assembler a, byte vector, Label handler)
    {
        a.lea(rax, __[handler]);
        a.mov(rdx, rax);
        a.and(edx, 0xFFFF);
        a.mov(rcx, (0x8EUL << 40) | (0x10UL << 16));
        a.or(rdx, rcx);
        a.mov(rcx, rax);
        a.shr(rcx, 16);
        a.and(ecx, 0xFFFF);
        a.shl(rcx, 48);
        a.or(rdx, rcx);
        a.mov(rax, Idt + ((ulong)vector * 16));
        a.mov(__qword_ptr[rax], rdx);
        a.mov(__qword_ptr[rax + 8], 0);
    }

    private static void Handler(Assembler a, ref Label label, ulong flagAddress, bool increment)
    {
        a.Label(ref label);
        a.push(rax);
        a.push(rcx);
        a.push(rdx);
        a.mov(rax, flagAddress);
        if (increment)
        {
            a.inc(__qword_ptr[rax]);
        }
        else
        {
            a.mov(__qword_ptr[rax], 1);
        }

        a.mov(ecx, 0x80B); // EOI: virtualized by the CPU, no exit
        a.xor(eax, eax);
        a.xor(edx, edx);
        a.wrmsr();
        a.pop(rdx);
        a.pop(rcx);
        a.pop(rax);
        a.iretq();
    }

    private static void Kernel(Assembler a, bool smp)
    {
        Label timer = a.CreateLabel(), apIpi = a.CreateLabel(), bspIpi = a.CreateLabel(), ap = a.CreateLabel(), tick = a.CreateLabel();
        a.mov(rsp, 0x220_0000UL);
        a.mov(rax, Idtr);
        a.mov(__word_ptr[rax], 0xFFF);
        a.mov(rcx, Idt);
        a.mov(__qword_ptr[rax + 2], rcx);
        a.lidt(__[rax]);
        Gate(a, TimerVector, timer);
        Gate(a, ApIpiVector, apIpi);
        Gate(a, BspIpiVector, bspIpi);

        // The APIC timer in TSC-deadline mode, vector 0x30; three ticks, each armed 200,000 TSC ticks ahead.
        Wrmsr(a, 0x832, (2UL << 17) | TimerVector);
        a.mov(ebx, 1);
        a.Label(ref tick);
        a.rdtsc();
        a.shl(rdx, 32);
        a.or(rax, rdx);
        a.add(rax, 200_000);
        Vmcall(a, 32, 0x6E0, v13: null);
        WaitFor(a, TickCount);
        a.inc(ebx);
        a.cmp(ebx, 3);
        a.jbe(tick);
        a.mov(rax, TickCount);
        a.mov(rax, __qword_ptr[rax]);
        Report(a, null);

        if (smp)
        {
            // Wake vCPU 1 through the ACPI MP wakeup mailbox, as Linux's acpi_wakeup_cpu() does.
            a.mov(rdi, AcpiTables.MailboxGpa);
            a.lea(rax, __[ap]);
            a.mov(__qword_ptr[rdi + 8], rax);
            a.mov(__dword_ptr[rdi + 4], 1);
            a.mov(__word_ptr[rdi], 1);
            Label spin = a.CreateLabel();
            a.Label(ref spin);
            a.pause();
            a.mov(rax, ApReady);
            a.cmp(__qword_ptr[rax], 1);
            a.jne(spin);
            Wrmsr(a, 0x830, (1UL << 32) | ApIpiVector); // fixed IPI to x2APIC ID 1
            a.mov(ebx, 1);
            WaitFor(a, BspGotIpi);
            Report(a, 0x1234);
        }

        a.mov(r15, 0UL);
        a.mov(r12, 4UL);
        a.mov(r13, 1UL);
        a.mov(r14, 0x30UL); // selftest success
        a.xor(eax, eax);
        a.mov(ecx, 0xFC00);
        a.xor(r10d, r10d);
        a.mov(r11d, 30);
        a.tdcall();
        a.hlt();

        // vCPU 1: its own stack, the same IDT; ready, wait for the IPI, answer with one, halt for good.
        a.Label(ref ap);
        a.mov(rsp, 0x230_0000UL);
        a.mov(rax, Idtr);
        a.lidt(__[rax]);
        a.mov(rax, ApReady);
        a.mov(__qword_ptr[rax], 1);
        a.mov(ebx, 1);
        WaitFor(a, ApGotIpi);
        Wrmsr(a, 0x830, (0UL << 32) | BspIpiVector);
        Halt(a, interruptsBlocked: true);
        a.hlt();

        Handler(a, ref timer, TickCount, increment: true);
        Handler(a, ref apIpi, ApGotIpi, increment: false);
        Handler(a, ref bspIpi, BspGotIpi, increment: false);
    }
}
