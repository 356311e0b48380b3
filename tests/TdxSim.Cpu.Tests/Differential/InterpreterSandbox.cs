using TdxSim.Abi;
using TdxSim.Memory;

namespace TdxSim.Cpu.Tests.Differential;

/// <summary>
/// Runs a sequence in the interpreter with the sandbox at the same guest-physical addresses as the
/// native mapping: the code followed by HLT, the data buffer and the stack window. Private memory
/// is sparse, so covering the sandbox's low-GiB address costs only the pages touched.
/// </summary>
internal sealed class InterpreterSandbox : IDisposable
{
    private static readonly byte[] Hlt = [0xF4];

    private readonly GuestPhysicalMemory _memory;

    public InterpreterSandbox(SandboxLayout layout, CpuOptions? options = null)
    {
        Layout = layout;
        Options = options;
        _memory = new GuestPhysicalMemory((layout.GuestMemoryBytes + 0xFFF) & ~0xFFFUL);
    }

    public SandboxLayout Layout { get; }

    public CpuOptions? Options { get; }

    /// <summary>Runs the sequence (followed by HLT) and returns how the interpreter stopped and its state.</summary>
    public (CpuExit Exit, CpuState State) Execute(TestSequence sequence)
    {
        Write(Layout.Code, sequence.Code);
        Write(Layout.Code + (ulong)sequence.Code.Length, Hlt);
        Write(Layout.Data, sequence.Input.Data);
        Write(Layout.StackWindowStart, sequence.Input.Stack);

        var cpu = new Cpu(_memory, 0, Options);
        cpu.State.Gpr = sequence.Input.Gprs;
        cpu.State.Rip = Layout.Code;
        cpu.State.Rflags = sequence.Input.Rflags;

        // Far more than any sequence retires: REP counts once, and branches only go forward.
        CpuExit exit = cpu.Run((ulong)sequence.Instructions.Count + 64);
        return (exit, cpu.State);
    }

    /// <summary>Runs until the HLT after the sequence. Returns null and an explanation when the interpreter stops anywhere else.</summary>
    public MachineState? Run(TestSequence sequence, out string? failure)
    {
        (CpuExit exit, CpuState state) = Execute(sequence);
        ulong hltAt = Layout.Code + (ulong)sequence.Code.Length;
        if (exit.Kind != CpuExitKind.VirtualizationException || exit.Ve.ExitReason != VeExitReason.Hlt || exit.Rip != hltAt)
        {
            failure = $"interpreter stopped with {exit} instead of at the final HLT (0x{hltAt:x})";
            return null;
        }

        var output = new MachineState { Gprs = state.Gpr, Rflags = state.Rflags };
        Read(Layout.Data, output.Data);
        Read(Layout.StackWindowStart, output.Stack);
        failure = null;
        return output;
    }

    public void Dispose() => _memory.Dispose();

    private void Write(ulong gpa, ReadOnlySpan<byte> bytes)
    {
        if (!_memory.TryWritePrivate(gpa, bytes))
        {
            throw new InvalidOperationException($"cannot write guest memory at 0x{gpa:x}");
        }
    }

    private void Read(ulong gpa, Span<byte> bytes)
    {
        if (!_memory.TryReadPrivate(gpa, bytes))
        {
            throw new InvalidOperationException($"cannot read guest memory at 0x{gpa:x}");
        }
    }
}
