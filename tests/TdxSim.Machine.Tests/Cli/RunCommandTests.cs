using System.Text.Json;
using Iced.Intel;
using TdxSim.Machine.Tests.Guests;
using static Iced.Intel.AssemblerRegisters;

namespace TdxSim.Machine.Tests.Cli;

/// <summary>
/// <c>tdxsim run</c> in-process (contract section 2): exit statuses, stdout carrying exactly the COM1 bytes, the
/// summary and diagnostics on stderr, <c>--dump-state</c> (section 8) and <c>--quiet</c>.
/// </summary>
public sealed class RunCommandTests : IDisposable
{
    private readonly CliHarness _cli = new();

    public void Dispose() => _cli.Dispose();

    /// <summary><c>tdxsim run ARGS</c> with an instruction limit as a safety net, so a regression cannot hang the suite.</summary>
    private static CliResult Run(params string[] args) => CliHarness.Run(
        args.Contains("--max-instructions") ? ["run", .. args] : ["run", .. args, "--max-instructions", "20000000"]);

    private string PrintingImage(string text, Action<Assembler> then) => _cli.FlatImage("print.bin", a =>
    {
        a.mov(dx, GuestAsm.Com1);
        foreach (char c in text)
        {
            a.mov(al, (byte)c);
            a.@out(dx, al);
        }

        then(a);
    });

    [Fact]
    public void Run_ScenarioWithOneModulePerVcpu_LogsEachVcpusRequestsToItsOwnModule()
    {
        string scenario = _cli.File("per-vcpu-module.yaml", "guest: builtin:smp-hello\nvcpus: 2\nmemory: 64M\nmodule: per-vcpu\n");
        string log = Path.Combine(_cli.Folder, "m.jsonl");
        CliResult result = Run(scenario, "--log", log, "--quiet");

        Assert.Equal(0, result.Status);
        Assert.Contains("hello from vCPU 1 of 2", result.Com1, StringComparison.Ordinal);
        var toModule = new HashSet<(long Vcpu, string To)>();
        foreach (string line in File.ReadLines(log))
        {
            using JsonDocument doc = JsonDocument.Parse(line);
            JsonElement e = doc.RootElement;
            string? to = e.GetProperty("to").GetString();
            if (to is not null && to.StartsWith("tdx-module", StringComparison.Ordinal) && e.GetProperty("from").GetString()!.StartsWith("vcpu/", StringComparison.Ordinal))
            {
                toModule.Add((e.GetProperty("vcpu").GetInt64(), to));
            }
        }

        // vCPU N talks to tdx-module/N and to no other module.
        Assert.Equal(new HashSet<(long, string)> { (0, "tdx-module/0"), (1, "tdx-module/1") }, toModule);
    }

    [Fact]
    public void Run_ScenarioWithAnUnknownModuleTopology_IsAUsageErrorNamingTheLine()
    {
        string scenario = _cli.File("bad-module.yaml", "guest: builtin:smp-hello\nmodule: both\n");
        Run(scenario).AssertUsageError("module", "bad-module.yaml");
    }

    [Fact]
    public void Run_WithNoArguments_RunsTheDefaultScenarioAndStdoutIsExactlyItsCom1Text()
    {
        CliResult result = Run("--quiet");

        Assert.Equal(0, result.Status);
        string[] hellos = result.Com1.Split('\n')[..2];
        Assert.Equal(["hello from vCPU 0 of 2", "hello from vCPU 1 of 2"], hellos.Order());
        Assert.Equal(string.Concat(hellos.Select(h => h + "\n")) + TourTranscript.Walks(2), result.Com1);
        Assert.Empty(result.Stderr);
    }

    [Fact]
    public void Run_TheDemoScenarioByName_ExitsThroughTheDebugPortWithStatus1()
    {
        CliResult result = Run("demo", "--quiet");

        Assert.Equal(1, result.Status);
        Assert.Equal(TourTranscript.Hello(0, 1) + TourTranscript.Walks(1), result.Com1);
    }

    [Fact]
    public void Run_AGuestThatHaltsWithInterruptsDisabled_Status0_StdoutOnlyTheGuestsBytes_SummaryOnStderr()
    {
        string image = PrintingImage("hi from the guest\n", a =>
        {
            a.cli();
            a.hlt();
        });

        CliResult result = Run("--image", image);

        Assert.Equal(0, result.Status);
        Assert.Equal("hi from the guest\n"u8.ToArray(), result.Stdout);
        Assert.Empty(result.StdoutText);
        Assert.Contains("exit 0 (halted)", result.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void Run_Quiet_SuppressesTheSummary()
    {
        string image = PrintingImage("x", a => a.HaltForever());

        CliResult quiet = Run("--image", image, "--quiet");
        CliResult loud = Run("--image", image);

        Assert.Equal("x", quiet.Com1);
        Assert.Empty(quiet.Stderr);
        Assert.Equal("x", loud.Com1);
        Assert.NotEmpty(loud.StderrLines);
    }

    [Fact]
    public void Run_SelftestSuccessPort_Status0_ReportsGoToStderr()
    {
        string image = _cli.FlatImage("selftest.bin", a =>
        {
            a.mov(eax, 0xC0FFEE);
            a.@out(GuestAsm.ReportPort, eax);
            a.@out(GuestAsm.SuccessPort, al);
            a.HaltForever();
        });

        CliResult result = Run("--image", image, "--quiet");

        Assert.Equal(0, result.Status);
        Assert.Empty(result.Stdout);
        Assert.Equal(["tdxsim: selftest report 0xc0ffee"], result.StderrLines);
    }

    [Theory]
    [InlineData(0x00, 1)]
    [InlineData(0x21, 0x43)]
    [InlineData(0x7F, 0xFF)]
    public void Run_DebugExitPort_StatusIsVShiftedLeftOrOne(byte value, int status)
    {
        string image = PrintingImage("bye\n", a => a.DebugExit(value));

        CliResult result = Run("--image", image, "--quiet");

        Assert.Equal(status, result.Status);
        Assert.Equal("bye\n", result.Com1);
    }

    [Fact]
    public void Run_GuestFatal_Status4_StderrNamesTheVcpuRipBytesAndReason_StdoutHasOnlyWhatWasPrinted()
    {
        string image = PrintingImage("before\n", a => a.ud2());

        CliResult result = Run("--image", image, "--quiet");

        Assert.Equal(4, result.Status);
        Assert.Equal("before\n", result.Com1);
        string line = Assert.Single(result.StderrLines);
        Assert.StartsWith("tdxsim: guest-fatal: vCPU 0: RIP 0x", line, StringComparison.Ordinal);
        Assert.Contains("(bytes 0f0b", line, StringComparison.Ordinal);
        Assert.Contains("#UD", line, StringComparison.Ordinal);
    }

    [Fact]
    public void Run_InstructionLimit_Status6()
    {
        string image = _cli.FlatImage("spin.bin", a =>
        {
            Label spin = a.CreateLabel();
            a.Label(ref spin);
            a.jmp(spin);
        });

        CliResult result = Run("--image", image, "--max-instructions", "0x1000", "--quiet");

        Assert.Equal(6, result.Status);
        Assert.Empty(result.Stdout);
    }

    [Fact]
    public void Run_AnElfImage_IsLoadedAtItsSegmentAndEnteredAtEEntryWithItsBssZeroed()
    {
        const ulong address = 0x30_0000;
        byte[] code = Images.GuestProgram.Assemble(address, a =>
        {
            Label here = a.CreateLabel();
            a.Label(ref here);
            a.lea(rax, __[here]);
            a.@out(GuestAsm.ReportPort, eax);              // where it runs
            a.mov(rbx, address + 0x800);
            a.mov(eax, __dword_ptr[rbx]);                   // .bss reads zero
            a.@out(GuestAsm.ReportPort, eax);
            a.@out(GuestAsm.SuccessPort, al);
            a.HaltForever();
        }).Code;
        string image = _cli.File("guest.elf", ElfImage.Build(code, address, bss: 0x1000));

        CliResult result = Run("--image", image, "--quiet");

        Assert.Equal(0, result.Status);
        Assert.Equal(["tdxsim: selftest report 0x300000", "tdxsim: selftest report 0x0"], result.StderrLines);
    }

    [Fact]
    public void Run_AScenarioFile_ResolvesItsImageRelativeToItsFolder_AndOptionsOverrideIt()
    {
        _cli.FlatImage("guest.bin", a =>
        {
            a.mov(eax, esi); // the vCPU count
            a.@out(GuestAsm.ReportPort, eax);
            a.@out(GuestAsm.SuccessPort, al);
            a.HaltForever();
        });
        string scenario = _cli.File("scenario.yaml", "name: relative\nimage: guest.bin\nvcpus: 1\nmemory: 8M\n");

        CliResult fromFile = Run(scenario, "--quiet");
        CliResult overridden = Run(scenario, "--vcpus", "3", "--quiet");

        Assert.Equal(0, fromFile.Status);
        Assert.Equal(["tdxsim: selftest report 0x1"], fromFile.StderrLines);
        Assert.Equal(0, overridden.Status);
        Assert.Contains("tdxsim: selftest report 0x3", overridden.StderrLines);
    }

    [Fact]
    public void Run_DumpState_WritesTheFinalStateJsonOfContractSection8()
    {
        string image = _cli.FlatImage("dump.bin", a =>
        {
            a.mov(rbx, 0x1234_5678_9ABC_DEF0UL);
            a.mov(eax, 0xAB);
            a.@out(GuestAsm.ReportPort, eax);
            a.HaltForever();
        });
        string dump = Path.Combine(_cli.Folder, "state.json");

        CliResult result = Run("--image", image, "--vcpus", "2", "--dump-state", dump, "--quiet");

        Assert.Equal(0, result.Status);
        using JsonDocument json = JsonDocument.Parse(File.ReadAllText(dump));
        JsonElement root = json.RootElement;
        Assert.Equal(["exit", "vcpus", "reports", "counters"], root.EnumerateObject().Select(p => p.Name));

        JsonElement exit = root.GetProperty("exit");
        Assert.Equal(0, exit.GetProperty("status").GetInt32());
        Assert.Equal("halted", exit.GetProperty("reason").GetString());

        JsonElement[] vcpus = [.. root.GetProperty("vcpus").EnumerateArray()];
        Assert.Equal(2, vcpus.Length);
        string[] registers = ["rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi", "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15"];
        for (int i = 0; i < vcpus.Length; i++)
        {
            JsonElement v = vcpus[i];
            Assert.Equal(i, v.GetProperty("index").GetInt32());
            Assert.Equal("halted", v.GetProperty("state").GetString());
            Assert.True(v.GetProperty("instructions").GetUInt64() > 0);
            foreach (string name in registers.Prepend("rflags").Prepend("rip"))
            {
                string? hex = v.GetProperty(name).GetString();
                Assert.Matches("^0x[0-9a-f]+$", hex);
            }

            Assert.Equal("0x123456789abcdef0", v.GetProperty("rbx").GetString());
            Assert.Equal($"0x{i:x}", v.GetProperty("rdi").GetString());
            Assert.Equal("0x2", v.GetProperty("rsi").GetString());
        }

        Assert.Equal(["0xab", "0xab"], root.GetProperty("reports").EnumerateArray().Select(r => r.GetString()));
        JsonElement counters = root.GetProperty("counters");
        Assert.True(counters.EnumerateObject().Any());
        Assert.All(counters.EnumerateObject(), c => Assert.Equal(JsonValueKind.Number, c.Value.ValueKind));
        Assert.Equal(2, counters.GetProperty("vmm.tdvmcall.Instruction.HLT.halted").GetInt64());
    }

    [Fact]
    public void Run_DeterministicWithTheSameSeed_GivesTheSameStdoutAndFinalState()
    {
        string image = _cli.FlatImage("race.bin", a =>
        {
            Label loop = a.CreateLabel();
            a.lea(eax, __[rdi + 'a']);
            a.mov(dx, GuestAsm.Com1);
            a.mov(ecx, 6);
            a.Label(ref loop);
            a.@out(dx, al);
            a.dec(ecx);
            a.jnz(loop);
            a.HaltForever();
        });
        string first = Path.Combine(_cli.Folder, "first.json");
        string second = Path.Combine(_cli.Folder, "second.json");

        CliResult a1 = Run("--image", image, "--vcpus", "3", "--deterministic", "--seed", "0x2a", "--dump-state", first, "--quiet");
        CliResult a2 = Run("--image", image, "--vcpus", "3", "--deterministic", "--seed", "42", "--dump-state", second, "--quiet");

        Assert.Equal(0, a1.Status);
        Assert.Equal(a1.Stdout, a2.Stdout);
        Assert.Equal(18, a1.Stdout.Length);
        Assert.Equal(File.ReadAllText(first), File.ReadAllText(second));
    }
}
