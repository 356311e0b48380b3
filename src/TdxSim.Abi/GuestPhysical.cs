namespace TdxSim.Abi;

/// <summary>Guest-physical address layout of a TD with GPAW 48 (contract section 3; reference 4.1).</summary>
public static class GuestPhysical
{
    /// <summary>Guest physical address width reported by TDG.VP.INFO.</summary>
    public const int Gpaw = 48;

    /// <summary>The shared bit: bit GPAW - 1.</summary>
    public const ulong SharedBit = 1UL << (Gpaw - 1);

    /// <summary>Mask of the bits a GPA may have set.</summary>
    public const ulong AddressMask = (1UL << Gpaw) - 1;

    /// <summary>Page size and shift.</summary>
    public const int PageShift = 12;

    /// <inheritdoc cref="PageShift"/>
    public const ulong PageSize = 1UL << PageShift;

    /// <summary>A 2 MiB large page.</summary>
    public const ulong LargePageSize = 1UL << 21;

    /// <summary>True when the GPA has the shared bit set.</summary>
    public static bool IsShared(ulong gpa) => (gpa & SharedBit) != 0;

    /// <summary>The GPA without the shared bit.</summary>
    public static ulong StripShared(ulong gpa) => gpa & ~SharedBit;
}

/// <summary>TD attributes bits (reference 1.3).</summary>
public static class TdAttributes
{
    public const ulong Debug = 1UL << 0;
    public const ulong SeptVeDisable = 1UL << 28;
    public const ulong Migratable = 1UL << 29;
    public const ulong Pks = 1UL << 30;
    public const ulong Perfmon = 1UL << 63;

    /// <summary>
    /// Every bit the TDX module defines: DEBUG (0), HGS_PLUS_PROF (4), PERF_PROF (5), PMT_PROF (6), ICSSD (16),
    /// LASS (27), SEPT_VE_DISABLE (28), MIGRATABLE (29), PKS (30), KL (31), TPA (62), PERFMON (63). The rest are
    /// reserved: TDH.MNG.INIT refuses a TD whose ATTRIBUTES set any of them.
    /// </summary>
    public const ulong Defined = Debug | (1UL << 4) | (1UL << 5) | (1UL << 6) | (1UL << 16) | (1UL << 27)
        | SeptVeDisable | Migratable | Pks | (1UL << 31) | (1UL << 62) | Perfmon;
}

/// <summary>TD-scope metadata field ids used by Linux with TDG.VM.RD/WR (reference 1.3).</summary>
public static class TdMetadataField
{
    public const ulong ConfigFlags = 0x1110_0003_0000_0016;
    public const ulong TdCtls = 0x1110_0003_0000_0017;
    public const ulong NotifyEnables = 0x9100_0000_0000_0010;
    public const ulong TopologyEnumConfigured = 0x9100_0000_0000_0019;
}

/// <summary>CONFIG_FLAGS bits.</summary>
public static class TdConfigFlags
{
    public const ulong MaxGpaw = 1UL << 0;
    public const ulong FlexiblePendingVe = 1UL << 1;
    public const ulong NoRbpMod = 1UL << 2;
    public const ulong MaxPaVirt = 1UL << 3;
    public const ulong MaxGpaVirt = 1UL << 4;
}

/// <summary>TD_CTLS bits.</summary>
public static class TdCtls
{
    public const ulong PendingVeDisable = 1UL << 0;
    public const ulong EnumTopology = 1UL << 1;
    public const ulong VirtCpuid2 = 1UL << 2;
    public const ulong ReduceVe = 1UL << 3;
    public const ulong Lock = 1UL << 63;
}
