using TdxSim.Cpu.Exec;

namespace TdxSim.Cpu.Decode;

/// <summary>What the translator learned about one instruction, for block building and flag liveness.</summary>
internal unsafe struct Translation
{
    /// <summary>Handler with exact flags.</summary>
    public delegate*<CpuCore*, Op*, int> Precise;

    /// <summary>Handler that skips the status flags, or null when there is none.</summary>
    public delegate*<CpuCore*, Op*, int> Fast;

    /// <summary>Status flags the instruction may write: the flag-skipping handler is used only when none of them is live.</summary>
    public ulong Writes;

    /// <summary>Status flags certainly overwritten (a conditional writer such as a shift by CL kills none).</summary>
    public ulong Kill;

    /// <summary>Status flags read.</summary>
    public ulong Read;

    /// <summary>The instruction may fault, exit or stop the block (memory, division, exits): flags must be exact on
    /// both sides of it.</summary>
    public bool Barrier;

    /// <summary>The block ends after this instruction (control transfer, exit, fault).</summary>
    public bool Ends;

    /// <summary>For a decode-time #UD: the human-readable reason.</summary>
    public string? Detail;
}
