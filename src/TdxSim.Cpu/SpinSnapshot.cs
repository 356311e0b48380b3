namespace TdxSim.Cpu;

/// <summary>
/// A vCPU's registers at the end of one turn of a spin loop (<see cref="Cpu.TakeSpinSnapshot"/>): two turns that end
/// alike, run against the same memory, will go on alike.
/// </summary>
public struct SpinSnapshot
{
    internal CpuState State;
    internal ulong Random;
    internal bool Valid;
    internal Xmm16 Xmm;

    /// <summary>Forgets the snapshot: the next comparison fails.</summary>
    public void Clear() => Valid = false;

    [System.Runtime.CompilerServices.InlineArray(32)]
    internal struct Xmm16
    {
        private ulong _element;
    }
}
