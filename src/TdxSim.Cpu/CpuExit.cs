using TdxSim.Abi;

namespace TdxSim.Cpu;

/// <summary>Why <see cref="Cpu.Run"/> returned.</summary>
public enum CpuExitKind
{
    /// <summary>The requested number of instructions retired.</summary>
    InstructionLimit,

    /// <summary>A pause-loop exit (<see cref="CpuOptions.PauseExitInterval"/>): the PAUSE retired, RIP is past it.</summary>
    Pause,

    /// <summary>TDCALL (<c>66 0F 01 CC</c>); RIP is at the TDCALL. The caller completes it and advances RIP by 4.</summary>
    Tdcall,

    /// <summary>A #VE the TDX module would deliver (vector 20): <see cref="CpuExit.Ve"/> holds the VE info.</summary>
    VirtualizationException,

    /// <summary>An EPT violation on private memory (outside private memory, or converted to shared): guest fatal.
    /// <see cref="CpuExit.Ve"/> holds the GPA and qualification.</summary>
    EptViolation,

    /// <summary>A fault: <see cref="CpuExit.Vector"/> (#DE 0, #UD 6, #GP 13, ...), <see cref="CpuExit.ErrorCode"/>, <see cref="CpuExit.Detail"/>.</summary>
    Exception,
}

/// <summary>
/// What stopped the vCPU. A value: the common exits (limit, TDCALL, #VE) allocate nothing; only faults carry a
/// <see cref="Detail"/> string.
/// </summary>
public readonly struct CpuExit
{
    /// <summary>Vector numbers of the exceptions the interpreter raises (SDM Vol. 3A table 6-1).</summary>
    public const byte DivideError = 0;

    /// <inheritdoc cref="DivideError"/>
    public const byte InvalidOpcode = 6;

    /// <inheritdoc cref="DivideError"/>
    public const byte DoubleFault = 8;

    /// <inheritdoc cref="DivideError"/>
    public const byte GeneralProtection = 13;

    /// <inheritdoc cref="DivideError"/>
    public const byte PageFaultVector = 14;

    /// <inheritdoc cref="DivideError"/>
    public const byte VirtualizationExceptionVector = 20;

    internal CpuExit(CpuExitKind kind, ulong rip, in VeInfo ve, byte vector, uint errorCode, string? detail)
    {
        Kind = kind;
        Rip = rip;
        Ve = ve;
        Vector = vector;
        ErrorCode = errorCode;
        Detail = detail;
    }

    /// <summary>The kind of exit.</summary>
    public CpuExitKind Kind { get; }

    /// <summary>For <see cref="CpuExitKind.VirtualizationException"/> and <see cref="CpuExitKind.EptViolation"/>: exit reason,
    /// qualification, GLA, GPA and instruction length, as TDG.VP.VEINFO.GET reports them (reference 3.2).</summary>
    public VeInfo Ve { get; }

    /// <summary>For <see cref="CpuExitKind.Exception"/>: the vector (0 #DE, 6 #UD, 13 #GP, ...).</summary>
    public byte Vector { get; }

    /// <summary>For <see cref="CpuExitKind.Exception"/> with an error code (#GP): the error code.</summary>
    public uint ErrorCode { get; }

    /// <summary>Human-readable reason, set on faults and guest-fatal exits only.</summary>
    public string? Detail { get; }

    /// <summary>RIP of the instruction that exited (not advanced); for <see cref="CpuExitKind.InstructionLimit"/> the next instruction.</summary>
    public ulong Rip { get; }

    /// <inheritdoc/>
    public override string ToString() => Kind switch
    {
        CpuExitKind.InstructionLimit => $"instruction limit at rip=0x{Rip:x}",
        CpuExitKind.Pause => $"pause-loop exit at rip=0x{Rip:x}",
        CpuExitKind.Tdcall => $"tdcall at rip=0x{Rip:x}",
        CpuExitKind.VirtualizationException =>
            $"#VE {Ve.ReasonName} qual=0x{Ve.ExitQualification:x} gpa=0x{Ve.Gpa:x} len={Ve.InstructionLength} at rip=0x{Rip:x}",
        CpuExitKind.EptViolation => $"EPT violation gpa=0x{Ve.Gpa:x} at rip=0x{Rip:x}: {Detail}",
        _ => $"exception {Vector} at rip=0x{Rip:x}: {Detail}",
    };
}
