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

    /// <summary>
    /// A whole x86-64 system, as a Linux kernel needs it: linear addresses translate through the guest's 4-level page
    /// tables (CR3) once CR0.PG, CR4.PAE and EFER.LMA are set, with a TLB; exceptions go through the guest's IDT once
    /// LIDT loaded one (a fault during delivery escalates to #DF, then to a triple fault, which ends the run); the MSRs
    /// the CPU owns (FS/GS bases, KERNEL_GS_BASE, EFER, SYSCALL MSRs, TSC_AUX, PAT) are read and written natively.
    /// Off (the default): linear = guest-physical and every fault is an exit, as the built-in guests expect.
    /// </summary>
    public bool GuestSystem { get; init; }
}
