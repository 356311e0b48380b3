namespace TdxSim.Cpu.Tests.Differential;

/// <summary>
/// Where things live, at the same addresses natively and in the guest. The native sandbox is mapped
/// at a fixed low host address (below 2 GiB, so absolute disp32 operands reach it) and the guest's
/// private memory is made large enough to hold the same addresses, so every pointer, RSP and
/// RIP-relative operand has the same value on both sides and all registers compare exactly.
/// </summary>
internal readonly record struct SandboxLayout(ulong Base)
{
    /// <summary>Bytes of the whole sandbox.</summary>
    public const ulong Size = 0x10_0000;

    /// <summary>Bytes of the data buffer that memory operands and string instructions use.</summary>
    public const int DataSize = 0x1000;

    /// <summary>Bytes of the stack window either side of the initial RSP that is initialised and compared.</summary>
    public const int StackWindow = 0x1000;

    /// <summary>Room left for code of one sequence.</summary>
    public const int MaxCodeSize = 0x7000 - 16;

    /// <summary>Native trampoline (prologue and epilogue).</summary>
    public ulong Trampoline => Base;

    /// <summary>First byte of the sequence under test.</summary>
    public ulong Code => Base + 0x1000;

    /// <summary>Native context block: registers in and out, host RSP.</summary>
    public ulong Context => Base + 0x8000;

    /// <summary>The data buffer.</summary>
    public ulong Data => Base + 0x1_0000;

    /// <summary>Initial RSP: over 800 KiB of mapped stack below it (from 0x20000), so a signal
    /// delivered while a sequence runs natively finds room for its frame and handler.</summary>
    public ulong StackTop => Base + 0xF_8000;

    /// <summary>Lowest byte of the initialised stack window.</summary>
    public ulong StackWindowStart => StackTop - StackWindow;

    /// <summary>One past the initialised stack window.</summary>
    public ulong StackWindowEnd => StackTop + StackWindow;

    /// <summary>Guest private memory needed to hold the sandbox at the same addresses.</summary>
    public ulong GuestMemoryBytes => Base + Size;

    public bool InData(ulong address, ulong size) => address >= Data && size <= DataSize && address - Data <= DataSize - size;

    public bool InStackWindow(ulong address, ulong size) =>
        address >= StackWindowStart && size <= 2 * StackWindow && address - StackWindowStart <= (2 * StackWindow) - size;
}
