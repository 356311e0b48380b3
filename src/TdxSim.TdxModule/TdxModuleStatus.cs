using TdxSim.Abi;

namespace TdxSim.TdxModule;

/// <summary>
/// Completion statuses the module returns that <see cref="TdxStatus"/> does not list yet
/// ([MOD] include/auto_gen/tdx_error_codes_defs.h), and a name lookup that covers them.
/// </summary>
public static class TdxModuleStatus
{
    /// <summary>TDG.VM.WR: the value breaks a field rule (a non-writable bit changed, or a TD_CTLS constraint).</summary>
    public const ulong MetadataFieldValueNotValid = 0xC000_0C03_0000_0000;

    /// <summary>TDG.VM.RD version 1 with a null field id: a warning; RDX holds the first field id of the context.</summary>
    public const ulong MetadataFirstFieldIdInContext = 0x0000_0C0B_0000_0000;

    /// <summary>A readable name such as <c>TDX_OPERAND_INVALID(RCX)</c>, including the statuses above.</summary>
    public static string Name(ulong status) => TdxStatus.ClassOf(status) switch
    {
        MetadataFieldValueNotValid => "TDX_METADATA_FIELD_VALUE_NOT_VALID",
        MetadataFirstFieldIdInContext => "TDX_METADATA_FIRST_FIELD_ID_IN_CONTEXT",
        _ => TdxStatus.Name(status),
    };
}
