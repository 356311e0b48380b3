using Iced.Intel;
using TdxSim.Abi;
using TdxSim.Images;
using static Iced.Intel.AssemblerRegisters;

namespace TdxSim.Cpu.Tests.Interpreter;

/// <summary>
/// An application processor in the firmware's wait on the ACPI multiprocessor wakeup mailbox
/// (<see cref="AcpiTables.ApWaitGpa"/>), woken the way Linux's <c>acpi_wakeup_cpu()</c> (arch/x86/kernel/acpi/
/// madt_wakeup.c) does it: ApicId, WakeupVector, then Command = 1, and it waits for Command to become 0.
/// </summary>
public sealed class MpWakeupTests
{
    private const ulong Marker = 0x5A5A;

    [Fact]
    public void Ap_waits_on_the_mailbox_then_acknowledges_and_jumps_to_the_wakeup_vector()
    {
        using var p = new PagedGuest(a => a.mov(eax, (uint)Marker));
        p.G.Write(AcpiTables.RsdpGpa, AcpiTables.Build(vcpus: 3));
        ref CpuState s = ref p.State;
        s.Rip = AcpiTables.ApWaitGpa;
        p.G[Gpr.Rbx] = 1; // this AP's x2APIC ID

        // Nothing posted: it spins in the firmware's code.
        Spin(p, 20_000);
        Assert.Equal(0UL, p.G[Gpr.Rax] & 0xFFFF_0000);

        // A wakeup for another processor: still waiting, Command left for that one to clear.
        Post(p, apicId: 2, vector: Guest.CodeBase);
        Spin(p, 20_000);
        Assert.Equal(1u, p.G.Read32(AcpiTables.MailboxGpa + AcpiTables.MailboxCommand) & 0xFFFF);

        // Its own: Command = 0 (acknowledged), then the code at the wakeup vector runs, still in 64-bit mode.
        p.G.Write(AcpiTables.MailboxGpa + AcpiTables.MailboxApicId, BitConverter.GetBytes(1u));
        p.G.RunToHlt(100_000);
        Assert.Equal(0u, p.G.Read32(AcpiTables.MailboxGpa + AcpiTables.MailboxCommand) & 0xFFFF);
        Assert.Equal(Marker, p.G[Gpr.Rax]);
        Assert.Equal(1UL, p.G[Gpr.Rbx]);
    }

    [Fact]
    public void Wait_code_decodes_as_documented()
    {
        var decoder = Decoder.Create(64, new ByteArrayCodeReader(AcpiTables.ApWaitCode.ToArray()), AcpiTables.ApWaitGpa);
        var text = new List<string>();
        var formatter = new NasmFormatter();
        while (decoder.IP < AcpiTables.ApWaitGpa + (ulong)AcpiTables.ApWaitCode.Length)
        {
            decoder.Decode(out Instruction i);
            var output = new StringOutput();
            formatter.Format(i, output);
            text.Add(output.ToStringAndReset());
        }

        Assert.Equal(
            [
                "mov edi,0E1000h", "pause", "movzx eax,word [rdi]", "cmp eax,1", "jne short 00000000000E1805h",
                "mov eax,[rdi+4]", "cmp eax,ebx", "jne short 00000000000E1805h", "mov rax,[rdi+8]", "mov word [rdi],0",
                "jmp rax",
            ],
            text);
    }

    [Fact]
    public void Bz_image_aps_start_in_the_wait()
    {
        Assert.Equal(AcpiTables.ApWaitGpa, new LinuxBootState(0, 0, 0, 0).ApEntry);
        byte[] tables = AcpiTables.Build(2);
        Assert.Equal(
            AcpiTables.ApWaitCode.ToArray(),
            tables.AsSpan((int)(AcpiTables.ApWaitGpa - AcpiTables.RsdpGpa), AcpiTables.ApWaitCode.Length).ToArray());
    }

    private static void Post(PagedGuest p, uint apicId, ulong vector)
    {
        p.G.Write(AcpiTables.MailboxGpa + AcpiTables.MailboxApicId, BitConverter.GetBytes(apicId));
        p.G.Write64(AcpiTables.MailboxGpa + AcpiTables.MailboxWakeupVector, vector);
        p.G.Write(AcpiTables.MailboxGpa + AcpiTables.MailboxCommand, BitConverter.GetBytes((ushort)1));
    }

    private static void Spin(PagedGuest p, ulong instructions)
    {
        CpuExit exit = p.G.Run(instructions);
        Assert.True(exit.Kind == CpuExitKind.InstructionLimit, $"expected to spin, got {exit}");
        ulong rip = p.State.Rip;
        Assert.InRange(rip, AcpiTables.ApWaitGpa, AcpiTables.ApWaitGpa + (ulong)AcpiTables.ApWaitCode.Length - 1);
    }
}
