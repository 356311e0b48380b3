using System.Text;
using FsCheck;
using FsCheck.Fluent;
using TdxSim.Abi;
using TdxSim.Images;
using TdxSim.Machine.Scenarios;
using TdxSim.Machine.Tests.Guests;
using TdxSim.Memory;

namespace TdxSim.Machine.Tests.Fuzz;

/// <summary>
/// Fuzzing as properties (FsCheck 3.6.0 in xunit facts): every input to a loader, the scenario parser, the log reader
/// (<c>tdxsim inspect</c>) and the interpreter ends in a clear error with its exit status, never a crash, a hang or a
/// stack trace. Executions per target are the counts below times <c>TDXSIM_FUZZ_SCALE</c> (README: the figures).
/// </summary>
public sealed class FuzzTests : IDisposable
{
    private const ulong Memory = 64UL << 20;
    private readonly DirectoryInfo _folder = Directory.CreateTempSubdirectory("tdxsim-fuzz-");

    public void Dispose() => _folder.Delete(recursive: true);

    /// <summary>Loads and installs an image; only <see cref="ImageFormatException"/> may come out.</summary>
    internal static void LoadAndInstall(Func<GuestImage> load, GuestPhysicalMemory memory)
    {
        GuestImage image;
        try
        {
            image = load();
        }
        catch (ImageFormatException e)
        {
            AssertOneLine(e.Message);
            return;
        }

        try
        {
            ImageInstaller.Install(image, memory);
        }
        catch (ImageFormatException e)
        {
            AssertOneLine(e.Message);
        }
    }

    private static void AssertOneLine(string message)
    {
        Assert.False(string.IsNullOrWhiteSpace(message));
        Assert.DoesNotContain('\n', message);
    }

    [Fact]
    public void ElfLoader_RandomAndMutatedImages_LoadOrFailWithAnImageError()
    {
        using var memory = new GuestPhysicalMemory(Memory);
        byte[] valid = FuzzSupport.ValidElf();
        Assert.Equal(GuestImageFormat.Elf64, ImageLoader.Load(valid, new ImageLoadOptions { VcpuStacks = 1 }).Format);
        Gen<byte[]> inputs = Gen.OneOf(FuzzSupport.Mutations(valid, FuzzSupport.ElfFields), FuzzSupport.Bytes(200).Select(b => Prefix([0x7F, 0x45, 0x4C, 0x46, 2, 1, 1], b)));
        FuzzSupport.Check("elf", 3000, inputs.ToArbitrary(),
            bytes => LoadAndInstall(() => ImageLoader.Load(bytes, new ImageLoadOptions { VcpuStacks = 1, MemoryBytes = Memory }), memory));
    }

    [Fact]
    public void FlatLoader_RandomImagesAndPlacements_LoadOrFailWithAnImageError()
    {
        using var memory = new GuestPhysicalMemory(Memory);
        ulong[] places = [0, 0x1000, 0x10_0000, 0x10_0001, Memory - 0x1000, Memory, Memory - (64 << 10), 1UL << 47, ulong.MaxValue - 0xFFF, ulong.MaxValue];
        Gen<(byte[] Bytes, ulong Load, ulong? Entry)> inputs =
            from bytes in FuzzSupport.Bytes(300)
            from load in Gen.Elements(places)
            from entry in Gen.OneOf(Gen.Constant<ulong?>(null), Gen.Elements(places).Select(p => (ulong?)p))
            select (bytes, load, entry);
        FuzzSupport.Check("flat", 3000, inputs.ToArbitrary(), input => LoadAndInstall(
            () => ImageLoader.LoadFlat(input.Bytes, new ImageLoadOptions { LoadAddress = input.Load, Entry = input.Entry, VcpuStacks = 1, MemoryBytes = Memory }),
            memory));
    }

    [Fact]
    public void BzImageLoader_RandomAndMutatedKernels_LoadOrFailWithAnImageError()
    {
        using var memory = new GuestPhysicalMemory(Memory);
        byte[] valid = FuzzSupport.ValidBzImage();
        Assert.Equal(GuestImageFormat.BzImage, BzImage.Load(valid, new BzImageOptions(Memory)).Format);
        Gen<(byte[] Bytes, string Cmdline)> inputs =
            from bytes in Gen.OneOf(FuzzSupport.Mutations(valid, FuzzSupport.BzImageFields), FuzzSupport.Bytes(0x300))
            from cmdline in Gen.Elements(string.Empty, "console=ttyS0", new string('x', 0x800), "\u00e9\u0000")
            select (bytes, cmdline);
        FuzzSupport.Check("bzimage", 3000, inputs.ToArbitrary(),
            input => LoadAndInstall(() => BzImage.Load(input.Bytes, new BzImageOptions(Memory, input.Cmdline)), memory));
    }

    [Fact]
    public void ScenarioParser_RandomYaml_ParsesOrFailsWithFileAndLine()
    {
        FuzzSupport.Check("scenario", 3000, ScenarioText().ToArbitrary(), text =>
        {
            try
            {
                ScenarioLoader.Parse(text, "fuzz.yaml", _folder.FullName);
            }
            catch (ScenarioException e)
            {
                AssertOneLine(e.Message);
                Assert.StartsWith("fuzz.yaml:", e.Message, StringComparison.Ordinal);
            }
        });
    }

    [Fact]
    public void LogReader_MutatedLogs_InspectReadsThemOrExits2NamingTheLine()
    {
        string path = Path.Combine(_folder.FullName, "fuzz.jsonl");
        string[] keys = ["reason", "subfn", "leaf", "port", "gpa", "vcpu"];
        Gen<(string Log, int Mode)> inputs =
            from log in LogText()
            from mode in Gen.Choose(0, keys.Length + 1)
            select (log, mode);
        FuzzSupport.Check("inspect", 600, inputs.ToArbitrary(), input =>
        {
            File.WriteAllText(path, input.Log);
            string[] args = input.Mode switch
            {
                0 => ["inspect", path],
                1 => ["inspect", path, "--follow", "2"],
                int m => ["inspect", path, "--by", keys[m - 2], "--json"],
            };
            using var stdout = new MemoryStream();
            using var text = new StringWriter();
            using var stderr = new StringWriter();
            int status = TdxSim.Cli.Program.Run(args, stdout, text, stderr);
            string err = stderr.ToString();
            Assert.True(status is 0 or 2, $"inspect exited {status}: {err} on:\n{input.Log}");
            if (status == 2)
            {
                string line = Assert.Single(err.Split('\n', StringSplitOptions.RemoveEmptyEntries));
                Assert.StartsWith("tdxsim", line, StringComparison.Ordinal);
                Assert.DoesNotContain("   at ", err, StringComparison.Ordinal);
            }
        });
    }

    [Fact]
    public void Interpreter_RandomBytesAsGuestCode_RunsUntilAnExitValue_NeverThrows()
    {
        using var memory = new GuestPhysicalMemory(1 << 20);
        FuzzSupport.Check("interpreter", 3000, FuzzSupport.Bytes(64).ToArbitrary(), code => RunCode(memory, code));
    }

    [Fact]
    public void Machine_RandomBytesAsGuestCode_EndWithADocumentedStatus()
    {
        FuzzSupport.Check("machine", 25, FuzzSupport.Bytes(48).ToArbitrary(), code =>
        {
            byte[] image = code.Length == 0 ? [0x90] : code;
            Scenario scenario = TdRunner.ScenarioFor(ImageLoader.LoadFlat(image, new ImageLoadOptions { MemoryBytes = TdRunner.DefaultMemory, VcpuStacks = 1 })) with
            {
                Deterministic = true,
                MaxInstructions = 20_000,
                TimeLimitMs = 5_000,
                Quiet = true,
            };
            MachineResult r = TdRunner.Run(scenario).Result;
            Assert.True(r.ExitStatus is ExitStatus.Success or ExitStatus.GuestFatal or ExitStatus.LimitReached || (r.ExitStatus & 1) == 1,
                $"status {r.ExitStatus} ({r.Reason}: {r.Detail}) for code {Convert.ToHexString(image)}");
            AssertOneLine(r.Detail);
        });
    }

    /// <summary>One slice of guest code on a fresh vCPU state; any exception is a bug of the interpreter.</summary>
    internal static void RunCode(GuestPhysicalMemory memory, byte[] code)
    {
        const ulong at = 0x1000;
        byte[] page = new byte[0x1000];
        code.CopyTo(page, 0);
        Assert.True(memory.TryWritePrivate(at, page));
        var cpu = new Cpu.Cpu(memory, 0);
        ref Cpu.CpuState s = ref cpu.State;
        s.Rip = at;
        s.Rflags = Cpu.CpuState.ResetRflags;
        s.Cr0 = Cpu.CpuState.LongModeCr0;
        s.Cr4 = Cpu.CpuState.LongModeCr4;
        s.Efer = Cpu.CpuState.LongModeEfer;
        s.Gpr[Gpr.Rsp] = 0x8_0000;
        s.Gpr[Gpr.Rsi] = 0x2000;
        s.Gpr[Gpr.Rdi] = 0x3000;
        s.Gpr[Gpr.Rcx] = 3;
        for (int slice = 0; slice < 4; slice++)
        {
            Cpu.CpuExit exit = cpu.Run(5_000);
            if (exit.Kind is not (Cpu.CpuExitKind.InstructionLimit or Cpu.CpuExitKind.Pause))
            {
                return;
            }
        }
    }

    private static byte[] Prefix(byte[] prefix, byte[] rest) => [.. prefix, .. rest];

    /// <summary>YAML-shaped text: scenario keys and hostile values, nested, indented, flow and block forms.</summary>
    private static Gen<string> ScenarioText()
    {
        string[] keys = ["name", "guest", "image", "kernel", "append", "initrd", "load", "entry", "vcpus", "memory", "accept",
            "unroll_string_io", "max_instructions", "time_limit_ms", "reply_timeout_ms", "seed", "deterministic", "vmm", "module",
            "td_attributes", "vmm_settings", "hostile_vmm", "log", "trace", "dump_state", "quiet", "akka", "msrs", "index", "access",
            "value", "faults", "rate", "map_gpa_retry", "on_fatal_error", "hlt_wake_ns", "msr_default", "quote_delay_ns", "vcpu", "x"];
        string[] values = ["1", "0", "-1", "0x10", "0x", "256", "257", "18446744073709551615", "18446744073709551616", "64M", "1G",
            "99999999G", "4K", "3", "true", "no", "lazy", "eager", "per-vcpu", "builtin:smp-hello", "builtin:nope", "/dev/null",
            "\"\"", "''", "~", "null", "[a, b]", "[]", "{}", "{seed: 1, rate: 0.5}", "[debug, sept_ve_disable]", "!tag x", "&a 1",
            "*a", "*b", "\"\\u0000\"", "'a\nb'", "0.5", "1e309", "nan", "[error-status, delay]", "{index: 0x10, access: ro}",
            "akka.loglevel = DEBUG", "{ unclosed", "|\n  text", ">-\n  folded", "- 1", "? x", "%YAML 1.2", "---", "...", "\t"];
        Gen<string> line =
            from indent in Gen.Elements(string.Empty, "  ", "    ", "\t", " ")
            from key in Gen.Elements(keys)
            from sep in Gen.Elements(": ", ":", " : ", ": - ", "- ", string.Empty)
            from value in Gen.Elements(values)
            select indent + key + sep + value;
        Gen<string> structured = Gen.ListOf(line).Select(lines => string.Join('\n', lines));
        Gen<string> raw = FuzzSupport.Bytes(120).Select(b => Encoding.UTF8.GetString(b));
        return Gen.Frequency((6, structured), (1, raw));
    }

    /// <summary>Mutations of a small valid message log.</summary>
    private static Gen<string> LogText()
    {
        string valid = string.Join('\n',
            """{"seq":1,"t_ns":0,"vcpu":0,"from":"machine","to":"vcpu/0","type":"StartVcpu","corr":1}""",
            """{"seq":2,"t_ns":100,"vcpu":0,"from":"vcpu/0","to":"tdx-module","type":"TdExited","reason":"IO_INSTRUCTION","corr":2,"regs":{"rax":"0x41","rcx":"0x0","rdx":"0x3f8"}}""",
            """{"seq":3,"t_ns":200,"vcpu":0,"from":"tdx-module","to":"vcpu/0","type":"TdEntered","reason":"IO_INSTRUCTION","corr":2}""",
            """{"seq":4,"t_ns":300,"vcpu":0,"from":"vcpu/0","to":"tdx-module","type":"TdcallRequested","leaf":"TDG.VP.VMCALL","subfn":"Instruction.IO","corr":2,"regs":{"rax":"0x0","r11":"0x1e","r12":"0x1","r13":"0x1","r14":"0x3f8","r15":"0x41"}}""",
            """{"seq":5,"t_ns":400,"vcpu":0,"from":"tdx-module","to":"vmm","type":"TdVmcallRequested","leaf":"TDG.VP.VMCALL","subfn":"Instruction.IO","corr":2,"regs":{"r11":"0x1e","r12":"0x1","r13":"0x1","r14":"0x3f8","r15":"0x41"}}""",
            """{"seq":6,"t_ns":500,"vcpu":0,"from":"vmm","to":"tdx-module","type":"TdVmcallCompleted","leaf":"TDG.VP.VMCALL","subfn":"Instruction.IO","corr":2,"status":"0x0","fault":"delay"}""",
            """{"seq":7,"t_ns":600,"vcpu":0,"from":"tdx-module","to":"vcpu/0","type":"TdcallCompleted","leaf":"TDG.VP.VMCALL","corr":2,"status":"0x0"}""") + "\n";
        byte[] bytes = Encoding.UTF8.GetBytes(valid);
        string[] splices = ["null", "-1", "1e400", "\"0x\"", "\"0xffffffffffffffffff\"", "{}", "[]", "\"\"", "9223372036854775808", ",", "}", "{", "\"", "\\u0000", "\n"];
        Gen<string> byteMutations = FuzzSupport.Mutations(bytes).Select(b => Encoding.UTF8.GetString(b));
        Gen<string> spliced =
            from at in Gen.Choose(0, valid.Length)
            from cut in Gen.Choose(0, 12)
            from splice in Gen.Elements(splices)
            select valid[..at] + splice + valid[Math.Min(valid.Length, at + cut)..];
        Gen<string> reordered = Gen.Shuffle(valid.Split('\n')).Select(lines => string.Join('\n', lines));
        return Gen.OneOf(byteMutations, spliced, reordered);
    }
}
