using System.Globalization;
using System.Text;
using System.Text.Json;
using TdxSim.Machine.Tests.Cli;

namespace TdxSim.Machine.Tests.Linux;

/// <summary>
/// Issue 10 acceptance: Debian's 6.12 TDX kernel, loaded by the boot protocol, finds TDX by CPUID 0x21 and prints its
/// first line over paravirt port I/O (TDCALL TDG.VP.VMCALL&lt;Instruction.IO&gt;); the run ends where TdxSim's
/// support ends, naming vCPU, RIP, bytes and reason.
/// </summary>
public sealed class DebianKernelBootTests
{
    private const string KaslrLine = "KASLR disabled: 'nokaslr' on cmdline.";
    private const string Cmdline = "earlyprintk=ttyS0 console=ttyS0 nokaslr";

    [Fact]
    public void Decompressor_prints_its_kaslr_line_through_tdvmcall_io()
    {
        using var cli = new CliHarness();
        string log = Path.Combine(cli.Folder, "linux.jsonl");

        // The line comes after about 0.7 M instructions: stop at 2 M, long before decompression ends.
        CliResult r = CliHarness.Run("run", "--kernel", DebianKernel.Path, "--append", Cmdline, "--memory", "1G",
            "--max-instructions", "2000000", "--log", log, "--quiet");

        Assert.True(r.Status == 6, $"status {r.Status}; stderr: {r.Stderr}");
        Assert.Contains(KaslrLine, r.Com1, StringComparison.Ordinal);

        // The same bytes, rebuilt from the message log: OUTs to COM1's THR that the guest's TDCALLs asked for and
        // the TDX module forwarded to the VMM as TDVMCALL<Instruction.IO>.
        var fromGuest = new StringBuilder();
        var toVmm = new StringBuilder();
        foreach (string line in File.ReadLines(log))
        {
            using var doc = JsonDocument.Parse(line);
            JsonElement e = doc.RootElement;
            string type = e.GetProperty("type").GetString()!;
            if (type is not ("TdcallRequested" or "TdVmcallRequested")
                || !e.TryGetProperty("subfn", out JsonElement subfn) || subfn.GetString() != "Instruction.IO")
            {
                continue;
            }

            JsonElement regs = e.GetProperty("regs");
            if (Reg(regs, "r14") != 0x3F8 || Reg(regs, "r13") != 1 || Reg(regs, "r12") != 1)
            {
                continue;
            }

            char ch = (char)(Reg(regs, "r15") & 0xFF);
            if (type == "TdcallRequested")
            {
                Assert.Equal("vcpu/0", e.GetProperty("from").GetString());
                Assert.Equal("tdx-module", e.GetProperty("to").GetString());
                Assert.Equal("TDG.VP.VMCALL", e.GetProperty("leaf").GetString());
                fromGuest.Append(ch);
            }
            else
            {
                Assert.Equal("tdx-module", e.GetProperty("from").GetString());
                Assert.Equal("vmm", e.GetProperty("to").GetString());
                toVmm.Append(ch);
            }
        }

        Assert.Contains(KaslrLine, fromGuest.ToString(), StringComparison.Ordinal);
        Assert.Equal(fromGuest.ToString(), toVmm.ToString());

        // The first write to port 0x3F8 is the divisor latch (DLAB set by early_serial_init: 115200 / 9600 = 12),
        // not a transmitted byte; every write after it is COM1 output.
        Assert.Equal("\f" + r.Com1, toVmm.ToString());
    }

    [Fact]
    public void Kernel_proper_prints_its_banner_through_its_own_ve_handler()
    {
        // Issue 11 acceptance: the kernel proper runs on its own page tables at its higher-half addresses, installs
        // its IDT, and every port-I/O #VE of its early console goes through vector 20 to its own handler, which reads
        // the VE info with TDG.VP.VEINFO.GET and does the I/O with TDG.VP.VMCALL itself. 1 G instructions reach
        // start_kernel's IRQ setup (about 120 console lines, some 15 s here).
        using var cli = new CliHarness();
        string state = Path.Combine(cli.Folder, "final.json");
        CliResult r = CliHarness.Run("run", "--kernel", DebianKernel.Path, "--append", Cmdline, "--memory", "1G",
            "--max-instructions", "1000000000", "--dump-state", state, "--quiet");

        Assert.True(r.Status == 6, $"status {r.Status}; stderr: {r.Stderr}");
        Assert.Contains("Linux version 6.12.107+deb12-cloud-amd64 ", r.Com1, StringComparison.Ordinal);
        Assert.Contains("tdx: Guest detected", r.Com1, StringComparison.Ordinal);
        Assert.Contains("Command line: " + Cmdline, r.Com1, StringComparison.Ordinal);
        Assert.Contains("ACPI: APIC 0x00000000000E0100", r.Com1, StringComparison.Ordinal);
        Assert.Contains("APIC: Switched APIC routing to: cluster x2apic", r.Com1, StringComparison.Ordinal);
        Assert.DoesNotContain("Kernel panic", r.Com1, StringComparison.Ordinal);

        using var doc = JsonDocument.Parse(File.ReadAllText(state));
        JsonElement counters = doc.RootElement.GetProperty("counters");
        long Counter(string name) => counters.TryGetProperty(name, out JsonElement v) ? v.GetInt64() : 0;

        // #VEs injected into the guest (the port I/O of its console among them), each read back by the guest's own
        // handler with TDG.VP.VEINFO.GET and forwarded with TDG.VP.VMCALL.
        long injected = Counter("tdx_module.tdentry.VeInjected");
        Assert.True(injected > 1000, $"{injected} #VEs injected");
        Assert.True(Counter("tdx_module.tdcall.TDG.VP.VEINFO.GET") >= injected - 1);
        Assert.True(Counter("tdx_module.tdcall.TDG.VP.VMCALL") >= injected - 1);
        Assert.True(Counter("tdx_module.tdcall.TDG.VP.INFO") >= 1);
    }

    [Fact]
    public void Two_vcpus_bring_up_cpu1_and_time_advances_with_timer_interrupts()
    {
        // Interrupt delivery: the boot CPU wakes CPU 1 through the MP wakeup mailbox and then needs its IPIs and the
        // APIC timer (TSC-deadline, emulated by the VMM, posted into the TD, delivered by the CPU's virtual APIC) to
        // go on. 1.4 G instructions of vCPU 0 get past `smp: Brought up` to the late initcalls (about 17 s here).
        using var cli = new CliHarness();
        string state = Path.Combine(cli.Folder, "final.json");
        CliResult r = CliHarness.Run("run", "--kernel", DebianKernel.Path, "--append", Cmdline, "--memory", "1G", "--vcpus", "2",
            "--max-instructions", "1400000000", "--dump-state", state, "--quiet");

        Assert.True(r.Status == 6, $"status {r.Status}; stderr: {r.Stderr}");
        Assert.Contains("TSC deadline timer available", r.Com1, StringComparison.Ordinal);
        Assert.Contains("smp: Brought up 1 node, 2 CPUs", r.Com1, StringComparison.Ordinal);
        Assert.DoesNotContain("unchecked MSR access", r.Com1, StringComparison.Ordinal);
        Assert.DoesNotContain("Unable to read current time from RTC", r.Com1, StringComparison.Ordinal);

        // dmesg time moves on: the last timestamp is well past the one of `Brought up`.
        string last = r.Com1.Split('\n', StringSplitOptions.RemoveEmptyEntries)[^1];
        double seconds = double.Parse(last.AsSpan(1, last.IndexOf(']', StringComparison.Ordinal) - 1).Trim(), CultureInfo.InvariantCulture);
        Assert.True(seconds > 0.1, $"last line: {last}");

        using var doc = JsonDocument.Parse(File.ReadAllText(state));
        JsonElement counters = doc.RootElement.GetProperty("counters");
        long Counter(string name) => counters.TryGetProperty(name, out JsonElement v) ? v.GetInt64() : 0;
        Assert.True(Counter("vmm.timer_interrupts") > 10, $"{Counter("vmm.timer_interrupts")} timer interrupts");
        Assert.True(Counter("vmm.ipis") > 10, $"{Counter("vmm.ipis")} IPIs");
        Assert.True(Counter("vcpu1.interrupts") > 10, $"{Counter("vcpu1.interrupts")} interrupts on vCPU 1");
    }

    [Fact]
    public void Default_memory_is_too_small_for_the_kernel()
    {
        CliResult r = CliHarness.Run("run", "--kernel", DebianKernel.Path);
        r.AssertUsageError("too large for memory", "init_size");
    }

    private static ulong Reg(JsonElement regs, string name) =>
        regs.TryGetProperty(name, out JsonElement v)
            ? ulong.Parse(v.GetString()!.AsSpan(2), NumberStyles.HexNumber, CultureInfo.InvariantCulture)
            : ulong.MaxValue;
}
