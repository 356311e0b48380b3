namespace TdxSim.TdxModule.Metadata;

/// <summary>
/// Layout of a metadata field identifier (TDX module ABI, "Field Identifier"): bits 23:0 FIELD_CODE, 31:24 reserved,
/// 33:32 ELEMENT_SIZE_CODE, 37:34 LAST_ELEMENT_IN_FIELD, 46:38 LAST_FIELD_IN_SEQUENCE, 49:47 reserved, 50 INC_SIZE,
/// 51 WRITE_MASK_VALID, 54:52 CONTEXT_CODE, 55 reserved, 61:56 CLASS_CODE, 62 reserved, 63 NON_ARCH.
/// <para>
/// For a single-element access the module requires the reserved bits, LAST_ELEMENT_IN_FIELD and LAST_FIELD_IN_SEQUENCE
/// to be 0 and ignores ELEMENT_SIZE_CODE, INC_SIZE, WRITE_MASK_VALID and CONTEXT_CODE ([MOD] metadata_generic.c,
/// md_check_as_single_element_id). That is why Linux's older ids (e.g. NOTIFY_ENABLES <c>0x9100000000000010</c>, without the
/// context and size bits of <c>0x9110000300000010</c>) still work.
/// </para>
/// </summary>
public static class MetadataFieldId
{
    public const ulong FieldCodeMask = 0x0000_0000_00FF_FFFF;
    public const ulong ClassCodeMask = 0x3F00_0000_0000_0000;
    public const ulong NonArch = 1UL << 63;
    public const ulong ContextCodeMask = 0x0070_0000_0000_0000;

    /// <summary>"Not available": the value TDG.VM.RD version 1 puts in RDX when there is no next field (MD_FIELD_ID_NA).</summary>
    public const ulong NotAvailable = ulong.MaxValue;

    /// <summary>Bits that must be zero in a single-element field id: reserved, LAST_ELEMENT_IN_FIELD, LAST_FIELD_IN_SEQUENCE.</summary>
    public const ulong MustBeZeroMask = 0x0000_0000_FF00_0000 // reserved 31:24
                                        | (0xFUL << 34)        // LAST_ELEMENT_IN_FIELD
                                        | (0x1FFUL << 38)      // LAST_FIELD_IN_SEQUENCE
                                        | (0x7UL << 47)        // reserved 49:47
                                        | (1UL << 55)          // reserved
                                        | (1UL << 62);         // reserved

    /// <summary>True when <paramref name="id"/> is acceptable as a single-element field id.</summary>
    public static bool IsValidSingleElement(ulong id) => (id & MustBeZeroMask) == 0;

    /// <summary>The bits that identify a field: field code, class code, NON_ARCH.</summary>
    public static ulong KeyOf(ulong id) => id & (FieldCodeMask | ClassCodeMask | NonArch);

    /// <summary>The null field id (all ones, context code ignored): TDG.VM.RD version 1 then returns the first field.</summary>
    public static bool IsNull(ulong id) => (id | ContextCodeMask) == ulong.MaxValue;
}
