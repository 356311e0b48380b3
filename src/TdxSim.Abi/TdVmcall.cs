namespace TdxSim.Abi;

/// <summary>
/// TDG.VP.VMCALL sub-functions (R11 when R10 = 0; GHCI; reference 2.2). Instruction-type
/// sub-functions equal the VMX basic exit reason, so a #VE handler passes the exit reason through.
/// </summary>
public enum TdVmcallSubfunction : ulong
{
    InstructionCpuid = 10,
    InstructionHlt = 12,
    InstructionIo = 30,
    InstructionRdmsr = 31,
    InstructionWrmsr = 32,
    VeRequestMmio = 48,
    InstructionWbinvd = 54,
    InstructionPconfig = 65,
    GetTdVmCallInfo = 0x10000,
    MapGpa = 0x10001,
    GetQuote = 0x10002,
    ReportFatalError = 0x10003,
    SetupEventNotifyInterrupt = 0x10004,
    Service = 0x10005,
}

/// <summary>TDVMCALL ABI facts: statuses returned in R10 (reference 2.3), names, GPR_SELECT rules.</summary>
public static class TdVmcall
{
    /// <summary>R10 value of a standard GHCI call (non-zero is vendor specific, e.g. a KVM hypercall).</summary>
    public const ulong StandardCall = 0;

    public const ulong Success = 0;
    public const ulong Retry = 1;
    public const ulong InvalidOperand = 0x8000_0000_0000_0000;
    public const ulong GpaInUse = 0x8000_0000_0000_0001;
    public const ulong AlignError = 0x8000_0000_0000_0002;
    public const ulong SubfuncUnsupported = 0x8000_0000_0000_0003;

    /// <summary>
    /// GPR_SELECT bits that must be clear: RAX, RCX, RSP and (with NO_RBP_MOD, which KVM always sets) RBP.
    /// </summary>
    public const ushort ForbiddenSelectMask = GprMask.Rax | GprMask.Rcx | GprMask.Rsp | GprMask.Rbp;

    /// <summary>The select mask Linux uses since v6.6: RDX, RBX, RSI, RDI, R8 to R15.</summary>
    public const ushort LinuxSelectMask = 0xFFCC;

    /// <summary>GHCI name of a status, e.g. <c>TDG.VP.VMCALL_INVALID_OPERAND</c>.</summary>
    public static string StatusName(ulong status) => status switch
    {
        Success => "TDG.VP.VMCALL_SUCCESS",
        Retry => "TDG.VP.VMCALL_RETRY",
        InvalidOperand => "TDG.VP.VMCALL_INVALID_OPERAND",
        GpaInUse => "TDG.VP.VMCALL_GPA_INUSE",
        AlignError => "TDG.VP.VMCALL_ALIGN_ERROR",
        SubfuncUnsupported => "TDG.VP.VMCALL_SUBFUNC_UNSUPPORTED",
        _ => $"0x{status:X16}",
    };

    /// <summary>GHCI name of a sub-function, e.g. <c>Instruction.IO</c>.</summary>
    public static string SubfunctionName(ulong subfunction) => subfunction switch
    {
        10 => "Instruction.CPUID",
        12 => "Instruction.HLT",
        30 => "Instruction.IO",
        31 => "Instruction.RDMSR",
        32 => "Instruction.WRMSR",
        48 => "#VE.RequestMMIO",
        54 => "Instruction.WBINVD",
        65 => "Instruction.PCONFIG",
        0x10000 => "GetTdVmCallInfo",
        0x10001 => "MapGPA",
        0x10002 => "GetQuote",
        0x10003 => "ReportFatalError",
        0x10004 => "SetupEventNotifyInterrupt",
        0x10005 => "Service",
        _ => $"0x{subfunction:X}",
    };

    /// <summary>I/O direction values in R13 of Instruction.IO.</summary>
    public const ulong IoDirectionIn = 0;

    /// <inheritdoc cref="IoDirectionIn"/>
    public const ulong IoDirectionOut = 1;

    /// <summary>MMIO direction values in R13 of #VE.RequestMMIO.</summary>
    public const ulong MmioRead = 0;

    /// <inheritdoc cref="MmioRead"/>
    public const ulong MmioWrite = 1;
}
