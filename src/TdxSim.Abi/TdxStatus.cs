namespace TdxSim.Abi;

/// <summary>
/// TDX module completion statuses returned in RAX (reference 1.4). The low 32 bits carry an
/// operand id (a <see cref="Gpr"/> number) or a detail such as the SEPT level; "status + operand"
/// is plain addition.
/// </summary>
public static class TdxStatus
{
    public const ulong Success = 0;
    public const ulong OperandInvalid = 0xC000_0100_0000_0000;
    public const ulong OperandAddrRangeError = 0xC000_0101_0000_0000;
    public const ulong OperandBusy = 0x8000_0200_0000_0000;
    public const ulong OperandBusyHostPriority = 0x8000_0204_0000_0000;
    public const ulong PageMetadataIncorrect = 0xC000_0300_0000_0000;
    public const ulong NoValidVeInfo = 0xC000_0704_0000_0000;
    public const ulong EptWalkFailed = 0xC000_0B00_0000_0000;
    public const ulong PageAlreadyAccepted = 0x0000_0B0A_0000_0000;
    public const ulong PageSizeMismatch = 0xC000_0B0B_0000_0000;
    public const ulong MetadataFieldIdIncorrect = 0xC000_0C00_0000_0000;
    public const ulong MetadataFieldNotWritable = 0xC000_0C01_0000_0000;
    public const ulong MetadataFieldNotReadable = 0xC000_0C02_0000_0000;
    public const ulong MetadataFieldValueNotValid = 0xC000_0C03_0000_0000;
    public const ulong MetadataWrMaskNotValid = 0xC000_0C0A_0000_0000;
    public const ulong MetadataFirstFieldIdInContext = 0x0000_0C0B_0000_0000;
    public const ulong GlaNotCanonical = 0xC000_1160_0000_0000;

    /// <summary>A status with an operand id in bits 31:0, e.g. OPERAND_INVALID for RCX.</summary>
    public static ulong WithOperand(ulong status, Gpr operand) => status + (ulong)operand;

    /// <summary>A status with a detail value in bits 31:0 (e.g. a SEPT level).</summary>
    public static ulong WithDetail(ulong status, uint detail) => status + detail;

    /// <summary>Bit 63: the status is an error (otherwise success or a warning).</summary>
    public static bool IsError(ulong status) => (status & (1UL << 63)) != 0;

    /// <summary>The status class without the operand/detail bits.</summary>
    public static ulong ClassOf(ulong status) => status & 0xFFFF_FFFF_0000_0000;

    /// <summary>A readable name such as <c>TDX_OPERAND_INVALID(RCX)</c>.</summary>
    public static string Name(ulong status)
    {
        string cls = ClassOf(status) switch
        {
            Success => "TDX_SUCCESS",
            OperandInvalid => "TDX_OPERAND_INVALID",
            OperandAddrRangeError => "TDX_OPERAND_ADDR_RANGE_ERROR",
            OperandBusy => "TDX_OPERAND_BUSY",
            OperandBusyHostPriority => "TDX_OPERAND_BUSY_HOST_PRIORITY",
            PageMetadataIncorrect => "TDX_PAGE_METADATA_INCORRECT",
            NoValidVeInfo => "TDX_NO_VALID_VE_INFO",
            EptWalkFailed => "TDX_EPT_WALK_FAILED",
            PageAlreadyAccepted => "TDX_PAGE_ALREADY_ACCEPTED",
            PageSizeMismatch => "TDX_PAGE_SIZE_MISMATCH",
            MetadataFieldIdIncorrect => "TDX_METADATA_FIELD_ID_INCORRECT",
            MetadataFieldNotWritable => "TDX_METADATA_FIELD_NOT_WRITABLE",
            MetadataFieldNotReadable => "TDX_METADATA_FIELD_NOT_READABLE",
            MetadataFieldValueNotValid => "TDX_METADATA_FIELD_VALUE_NOT_VALID",
            MetadataWrMaskNotValid => "TDX_METADATA_WR_MASK_NOT_VALID",
            MetadataFirstFieldIdInContext => "TDX_METADATA_FIRST_FIELD_ID_IN_CONTEXT",
            GlaNotCanonical => "TDX_GLA_NOT_CANONICAL",
            _ => $"0x{ClassOf(status):X16}",
        };
        uint detail = (uint)status;
        if (status == Success)
        {
            return cls;
        }

        return ClassOf(status) is OperandInvalid or OperandBusy or OperandAddrRangeError && detail < 16
            ? $"{cls}({Gprs.Names[(int)detail].ToUpperInvariant()})"
            : detail != 0 ? $"{cls}+{detail}" : cls;
    }
}
