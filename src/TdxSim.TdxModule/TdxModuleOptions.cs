using TdxSim.Abi;

namespace TdxSim.TdxModule;

/// <summary>
/// The TD configuration the TDX module enforces: what the VMM passed to TDH.MNG.INIT (attributes, XFAM, CONFIG_FLAGS,
/// MAX_VCPUS, TSC frequency), the measurements taken while the TD was built, and TdxSim choices (the CPU model seen
/// through CPUID, the report MAC key). <see cref="Validate"/> names the first bad value.
/// </summary>
public sealed record TdxModuleOptions
{
    /// <summary>Length of a SHA-384 measurement (MRTD, RTMR, MRCONFIGID, ...).</summary>
    public const int MeasurementLength = 48;

    /// <summary>Length of the TDREPORT MAC key (HMAC-SHA256).</summary>
    public const int ReportMacKeyLength = 32;

    /// <summary>The TSC frequency granularity of TDX: 25 MHz (reference 6.2).</summary>
    public const ulong TscFrequencyUnitHz = 25_000_000;

    /// <summary>Configuration flags this module models. MAX_GPAW (GPAW 52) is refused: the TdxSim guest-physical layout is GPAW 48.</summary>
    public const ulong SupportedConfigFlags = TdConfigFlags.FlexiblePendingVe | TdConfigFlags.NoRbpMod;

    /// <summary>Number of vCPUs (TDCS.NUM_VCPUS): TDG.VP.INFO R8[31:0]; vCPU indexes are 0 to NumVcpus - 1.</summary>
    public required int NumVcpus { get; init; }

    /// <summary>TDCS.MAX_VCPUS: TDG.VP.INFO R8[63:32]. Null means <see cref="NumVcpus"/> (what QEMU passes by default).</summary>
    public int? MaxVcpus { get; init; }

    /// <summary>TD ATTRIBUTES (TDG.VP.INFO RDX, TDREPORT). Default SEPT_VE_DISABLE, as KVM and production Linux TDs use.</summary>
    public ulong Attributes { get; init; } = TdAttributes.SeptVeDisable;

    /// <summary>CONFIG_FLAGS. Default NO_RBP_MOD, which KVM always sets (reference 2.1).</summary>
    public ulong ConfigFlags { get; init; } = TdConfigFlags.NoRbpMod;

    /// <summary>XFAM (extended features the TD may use); bits 0 (x87) and 1 (SSE) are mandatory. Default x87 | SSE.</summary>
    public ulong Xfam { get; init; } = 0x3;

    /// <summary>MRTD, the build-time measurement (48 bytes; empty = all zero). See <c>TdMeasurement.MeasureImage</c>.</summary>
    public ReadOnlyMemory<byte> Mrtd { get; init; }

    /// <summary>MRCONFIGID (48 bytes; empty = all zero).</summary>
    public ReadOnlyMemory<byte> MrConfigId { get; init; }

    /// <summary>MROWNER (48 bytes; empty = all zero).</summary>
    public ReadOnlyMemory<byte> MrOwner { get; init; }

    /// <summary>MROWNERCONFIG (48 bytes; empty = all zero).</summary>
    public ReadOnlyMemory<byte> MrOwnerConfig { get; init; }

    /// <summary>
    /// TDG.VP.INFO R10 bit 0, "TDG.SYS.RD available". Default false, because this module does not implement
    /// TDG.SYS.RD (a guest that trusts the bit would get OPERAND_INVALID).
    /// </summary>
    public bool SysRdAvailable { get; init; }

    /// <summary>Virtual TSC frequency in Hz: a multiple of 25 MHz from 100 MHz to 10 GHz (CPUID leaf 0x15).</summary>
    public ulong TscFrequencyHz { get; init; } = 2_000_000_000;

    /// <summary>TDCS.TOPOLOGY_ENUM_CONFIGURED: the VMM configured x2APIC IDs, so the guest may set TD_CTLS.ENUM_TOPOLOGY.</summary>
    public bool TopologyEnumConfigured { get; init; } = true;

    /// <summary>
    /// Start with TD_CTLS.ENUM_TOPOLOGY set, as if firmware had enabled it: CPUID 0xB and the x2APIC ID MSR are then
    /// answered by the module from the first instruction (contract section 3). False: they #VE until the guest sets it.
    /// </summary>
    public bool EnumTopologyAtStart { get; init; } = true;

    /// <summary>CPUID(1).EAX: family, model, stepping. Default 0x000806F8 (family 6, model 0x8F, stepping 8: Sapphire Rapids).</summary>
    public uint CpuidSignature { get; init; } = 0x0008_06F8;

    /// <summary>Key of the TDREPORT MAC (HMAC-SHA256, 32 bytes). Empty: derived from <see cref="Seed"/> and MRTD, so runs are reproducible.</summary>
    public ReadOnlyMemory<byte> ReportMacKey { get; init; }

    /// <summary>Seed of every TdxSim-made secret of this TD (the report MAC key when none is given).</summary>
    public ulong Seed { get; init; }

    /// <summary>MAX_VCPUS as the module reports it.</summary>
    public int ResolvedMaxVcpus => MaxVcpus ?? NumVcpus;

    /// <summary>Throws <see cref="ArgumentException"/> naming the first inconsistent value.</summary>
    public void Validate()
    {
        if (NumVcpus < 1)
        {
            throw new ArgumentException($"NumVcpus {NumVcpus} must be at least 1", nameof(NumVcpus));
        }

        if (ResolvedMaxVcpus < NumVcpus || ResolvedMaxVcpus > ushort.MaxValue)
        {
            throw new ArgumentException($"MaxVcpus {ResolvedMaxVcpus} must be between NumVcpus ({NumVcpus}) and {ushort.MaxValue}", nameof(MaxVcpus));
        }

        if ((ConfigFlags & ~SupportedConfigFlags) != 0)
        {
            throw new ArgumentException(
                $"CONFIG_FLAGS 0x{ConfigFlags:X} has bits this module does not model (0x{ConfigFlags & ~SupportedConfigFlags:X}); "
                + "supported: FLEXIBLE_PENDING_VE, NO_RBP_MOD (MAX_GPAW would need GPAW 52, TdxSim uses 48)",
                nameof(ConfigFlags));
        }

        if ((Xfam & 0x3) != 0x3)
        {
            throw new ArgumentException($"XFAM 0x{Xfam:X} must have bits 0 (x87) and 1 (SSE) set", nameof(Xfam));
        }

        if (TscFrequencyHz % TscFrequencyUnitHz != 0 || TscFrequencyHz < 100_000_000 || TscFrequencyHz > 10_000_000_000)
        {
            throw new ArgumentException($"TSC frequency {TscFrequencyHz} Hz must be a multiple of 25 MHz from 100 MHz to 10 GHz", nameof(TscFrequencyHz));
        }

        if (EnumTopologyAtStart && !TopologyEnumConfigured)
        {
            throw new ArgumentException("EnumTopologyAtStart requires TopologyEnumConfigured", nameof(EnumTopologyAtStart));
        }

        CheckMeasurement(Mrtd, nameof(Mrtd));
        CheckMeasurement(MrConfigId, nameof(MrConfigId));
        CheckMeasurement(MrOwner, nameof(MrOwner));
        CheckMeasurement(MrOwnerConfig, nameof(MrOwnerConfig));
        if (ReportMacKey.Length is not (0 or ReportMacKeyLength))
        {
            throw new ArgumentException($"ReportMacKey must be empty or {ReportMacKeyLength} bytes, not {ReportMacKey.Length}", nameof(ReportMacKey));
        }
    }

    private static void CheckMeasurement(ReadOnlyMemory<byte> value, string name)
    {
        if (value.Length is not (0 or MeasurementLength))
        {
            throw new ArgumentException($"{name} must be empty or {MeasurementLength} bytes (SHA-384), not {value.Length}", name);
        }
    }
}
