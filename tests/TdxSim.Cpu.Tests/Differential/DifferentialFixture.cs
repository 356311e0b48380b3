using Iced.Intel;

namespace TdxSim.Cpu.Tests.Differential;

/// <summary>
/// The differential test classes share one harness (one fixed-address native sandbox) and run one
/// after the other.
/// </summary>
[CollectionDefinition(Name)]
public sealed class DifferentialCollection : ICollectionFixture<DifferentialFixture>
{
    public const string Name = "Differential";
}

/// <summary>One native sandbox and the interpreter sandboxes, shared by the differential tests.</summary>
public sealed class DifferentialFixture : IDisposable
{
    private readonly Lazy<Harness> _harness = new(() => new Harness());

    internal Harness Harness => _harness.Value;

    public void Dispose()
    {
        if (_harness.IsValueCreated)
        {
            _harness.Value.Dispose();
        }
    }
}

/// <summary>Generates a sequence, runs it on both sides, and compares.</summary>
internal sealed class Harness : IDisposable
{
    private readonly Dictionary<string, SequenceGenerator> _generators = new(StringComparer.Ordinal);

    public Harness()
    {
        Native = NativeSandbox.Create();
        Interpreter = new InterpreterSandbox(Native.Layout);

        // Blocks of one instruction and REP in chunks of one: every instruction boundary is a block
        // boundary and an exit point, so flag-liveness shortcuts and REP restarts are checked too.
        SteppingInterpreter = new InterpreterSandbox(Native.Layout, new CpuOptions { MaxBlockInstructions = 1, RepChunk = 1 });
        Catalog = InstructionCatalog.ForHost();
        ActiveBugs = [.. KnownInterpreterBugs.All.Where(StillPresent)];
        Avoid = ActiveBugs.Count == 0 ? null : i => ActiveBugs.Any(b => b.Affects(i));
        Generator = new SequenceGenerator(Native.Layout, Native.HostFixedRflags, Catalog, avoid: Avoid);
    }

    /// <summary>Known interpreter bugs whose reproducer still mismatches (their forms are not generated).</summary>
    public IReadOnlyList<KnownBug> ActiveBugs { get; }

    private Func<Instruction, bool>? Avoid { get; }

    public NativeSandbox Native { get; }

    public InterpreterSandbox Interpreter { get; }

    /// <summary>The interpreter with one-instruction blocks and one-element REP chunks.</summary>
    public InterpreterSandbox SteppingInterpreter { get; }

    public InstructionCatalog Catalog { get; }

    public SequenceGenerator Generator { get; }

    public SandboxLayout Layout => Native.Layout;

    /// <summary>A generator drawing only from one family (no branch, string or POPF gadgets).</summary>
    public SequenceGenerator ForFamily(string family)
    {
        lock (_generators)
        {
            if (!_generators.TryGetValue(family, out SequenceGenerator? g))
            {
                InstructionCatalog only = InstructionCatalog.ForHost(c => InstructionCatalog.FamilyOf(c.Mnemonic()) == family);
                _generators[family] = g = new SequenceGenerator(Native.Layout, Native.HostFixedRflags, only, specialGadgets: false, avoid: Avoid);
            }

            return g;
        }
    }

    /// <summary>Runs one sequence on both sides; null when they agree, else a full report.</summary>
    public string? Check(TestSequence sequence, bool stepping = false)
    {
        // The interpreter first: a sequence it cannot finish (a generator bug that would fault) never runs natively.
        MachineState? interpreted = (stepping ? SteppingInterpreter : Interpreter).Run(sequence, out string? failure);
        if (interpreted is null)
        {
            return StateComparer.Report(sequence, Layout, "  " + failure + "\n");
        }

        MachineState native = Native.Run(WithNativeTerminator(sequence), sequence.Input);
        string? diff = StateComparer.Compare(sequence, native, interpreted, Layout);
        return diff is null ? null : StateComparer.Report(sequence, Layout, diff);
    }

    /// <summary>Runs hand-built code (assembled at <see cref="SandboxLayout.Code"/>) on both sides from <paramref name="input"/>.</summary>
    public (MachineState Native, MachineState? Interpreted, string? Failure) RunBoth(Action<Assembler> emit, MachineState input)
    {
        var a = new Assembler(64);
        emit(a);
        var writer = new ByteListWriter();
        a.Assemble(writer, Layout.Code);
        var sequence = new TestSequence
        {
            Seed = 0,
            Instructions = a.Instructions.ToArray(),
            Code = writer.ToArray(),
            Input = input,
            UndefinedFlags = 0,
            BaseRegister = Register.None,
            IndexRegister = Register.None,
        };
        MachineState? interpreted = Interpreter.Run(sequence, out string? failure);
        MachineState native = Native.Run(WithNativeTerminator(sequence), input);
        return (native, interpreted, failure);
    }

    /// <summary>An input state: the given registers, RSP at the sandbox stack, the host's fixed RFLAGS plus <paramref name="status"/>.</summary>
    public MachineState Input(ulong status = 0, params (Abi.Gpr Reg, ulong Value)[] registers)
    {
        var input = new MachineState { Rflags = Native.HostFixedRflags | (status & X86Flags.Status) };
        input.Gprs[Abi.Gpr.Rsp] = Layout.StackTop;
        foreach ((Abi.Gpr reg, ulong value) in registers)
        {
            input.Gprs[reg] = value;
        }

        return input;
    }

    /// <summary>Runs a known bug's reproducer on both sides.</summary>
    public (MachineState Native, MachineState? Interpreted, string? Failure) Reproduce(KnownBug bug) => RunBoth(bug.Emit, Input(0, bug.Registers));

    private bool StillPresent(KnownBug bug)
    {
        (MachineState native, MachineState? interpreted, _) = Reproduce(bug);
        return interpreted is null || StateComparer.Compare(EmptySequence(native), native, interpreted, Layout) is not null;
    }

    private static TestSequence EmptySequence(MachineState input) => new()
    {
        Seed = 0,
        Instructions = [],
        Code = [],
        Input = input,
        UndefinedFlags = 0,
        BaseRegister = Register.None,
        IndexRegister = Register.None,
    };

    private byte[] WithNativeTerminator(TestSequence sequence)
    {
        var bytes = new ByteListWriter();
        foreach (byte b in sequence.Code)
        {
            bytes.WriteByte(b);
        }

        ulong at = Layout.Code + (ulong)sequence.Code.Length;
        Encoder.Create(64, bytes).Encode(Instruction.CreateBranch(Code.Jmp_rel32_64, Native.Epilogue), at);
        return bytes.ToArray();
    }

    public void Dispose()
    {
        SteppingInterpreter.Dispose();
        Interpreter.Dispose();
        Native.Dispose();
    }
}
