namespace TdxSim.Cpu;

/// <summary>Tunables of one <see cref="Cpu"/>.</summary>
public sealed record CpuOptions
{
    /// <summary>TSC ticks per retired instruction: RDTSC returns <c>TscOffset + InstructionsRetired * TscPerInstruction</c>,
    /// never a wall-clock value, so runs are reproducible.</summary>
    public ulong TscPerInstruction { get; init; } = 1;

    /// <summary>TSC value at zero retired instructions.</summary>
    public ulong TscOffset { get; init; }

    /// <summary>Most instructions in one decoded block (1 to 256).</summary>
    public int MaxBlockInstructions { get; init; } = 64;

    /// <summary>Most iterations a REP string instruction runs before the interpreter checks its limits again
    /// (the instruction then restarts where it stopped, as after an interrupt window).</summary>
    public int RepChunk { get; init; } = 1 << 16;

    /// <summary>
    /// Pause-loop exiting: every this-many PAUSE instructions end <see cref="Cpu.Run"/> with <see cref="CpuExitKind.Pause"/>,
    /// as PLE makes a spinning vCPU exit so the host can schedule the vCPU holding the lock. 0 (the default): never.
    /// </summary>
    public int PauseExitInterval { get; init; }
}
