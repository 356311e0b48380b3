using TdxSim.Abi;

namespace TdxSim.Cpu.Tests.Differential;

/// <summary>What one side produced: the sixteen GPRs, RFLAGS, the data buffer and the stack window.</summary>
internal sealed class MachineState
{
    public Gprs Gprs;

    public ulong Rflags { get; set; }

    public byte[] Data { get; } = new byte[SandboxLayout.DataSize];

    public byte[] Stack { get; } = new byte[2 * SandboxLayout.StackWindow];

    public MachineState Clone()
    {
        var copy = new MachineState { Gprs = Gprs, Rflags = Rflags };
        Data.CopyTo(copy.Data, 0);
        Stack.CopyTo(copy.Stack, 0);
        return copy;
    }
}
