namespace TdxSim.Abi;

/// <summary>
/// VMX basic exit reasons that reach a TD guest as #VE, as returned by TDG.VP.VEINFO.GET in RCX[31:0]
/// (reference 3.1, 3.3).
/// </summary>
public enum VeExitReason : uint
{
    Cpuid = 10,
    Hlt = 12,
    Invd = 13,
    Vmcall = 18,
    IoInstruction = 30,
    MsrRead = 31,
    MsrWrite = 32,
    MwaitInstruction = 36,
    MonitorInstruction = 39,
    EptViolation = 48,
    EptMisconfig = 49,
    Wbinvd = 54,
    ApicWrite = 56,
    Pconfig = 65,
}

/// <summary>Names of exit reasons as Linux spells them (without the EXIT_REASON_ prefix).</summary>
public static class VeExitReasonInfo
{
    /// <summary>The name, e.g. <c>IO_INSTRUCTION</c>.</summary>
    public static string Name(uint reason) => reason switch
    {
        10 => "CPUID",
        12 => "HLT",
        13 => "INVD",
        18 => "VMCALL",
        30 => "IO_INSTRUCTION",
        31 => "MSR_READ",
        32 => "MSR_WRITE",
        36 => "MWAIT_INSTRUCTION",
        39 => "MONITOR_INSTRUCTION",
        48 => "EPT_VIOLATION",
        49 => "EPT_MISCONFIG",
        54 => "WBINVD",
        56 => "APIC_WRITE",
        65 => "PCONFIG",
        _ => $"EXIT_REASON_{reason}",
    };
}

/// <summary>
/// The per-vCPU #VE information the TDX module hands out through TDG.VP.VEINFO.GET:
/// RCX[31:0] exit reason, RDX exit qualification, R8 GLA, R9 GPA, R10[31:0] instruction length,
/// R10[63:32] instruction information (reference 1.3 and 3.2).
/// </summary>
public readonly record struct VeInfo(
    VeExitReason ExitReason,
    ulong ExitQualification,
    ulong Gla,
    ulong Gpa,
    uint InstructionLength,
    uint InstructionInfo)
{
    /// <summary>The exit reason's name, e.g. <c>EPT_VIOLATION</c>.</summary>
    public string ReasonName => VeExitReasonInfo.Name((uint)ExitReason);
}

/// <summary>
/// Exit qualification of an I/O instruction (SDM Vol. 3C table 28-5; reference 3.3):
/// bits 2:0 size - 1, bit 3 direction (1 = IN), bit 4 string, bit 5 REP, bit 6 immediate operand,
/// bits 31:16 port.
/// </summary>
public static class IoQualification
{
    public const ulong DirectionIn = 1 << 3;
    public const ulong String = 1 << 4;
    public const ulong Rep = 1 << 5;
    public const ulong ImmediateOperand = 1 << 6;

    /// <summary>Builds a qualification.</summary>
    public static ulong Encode(int size, bool isIn, ushort port, bool isString = false, bool rep = false, bool immediate = false)
        => (ulong)(uint)(size - 1) | (isIn ? DirectionIn : 0) | (isString ? String : 0) | (rep ? Rep : 0)
           | (immediate ? ImmediateOperand : 0) | ((ulong)port << 16);

    /// <summary>Access size in bytes (1, 2 or 4).</summary>
    public static int Size(ulong qualification) => (int)(qualification & 7) + 1;

    /// <summary>True for IN/INS.</summary>
    public static bool IsIn(ulong qualification) => (qualification & DirectionIn) != 0;

    /// <summary>True for INS/OUTS.</summary>
    public static bool IsString(ulong qualification) => (qualification & String) != 0;

    /// <summary>True when a REP prefix was present.</summary>
    public static bool IsRep(ulong qualification) => (qualification & Rep) != 0;

    /// <summary>The port number.</summary>
    public static ushort Port(ulong qualification) => (ushort)(qualification >> 16);
}

/// <summary>EPT-violation exit-qualification bits (SDM Vol. 3C table 28-7; reference 3.3).</summary>
public static class EptQualification
{
    public const ulong Read = 1 << 0;
    public const ulong Write = 1 << 1;
    public const ulong Fetch = 1 << 2;
    public const ulong EntryReadable = 1 << 3;
    public const ulong EntryWritable = 1 << 4;
    public const ulong EntryExecutable = 1 << 5;
    public const ulong GlaValid = 1 << 7;
    public const ulong FinalTranslation = 1 << 8;
}
