using System.Collections.Frozen;

namespace TdxSim.Vmm.Msr;

/// <summary>
/// The VMM's MSR policy: the MSRs it answers, with access rights and reset values. Every MSR not in the table is
/// denied (INVALID_OPERAND), like a KVM MSR filter whose default action is deny. Immutable.
/// </summary>
/// <remarks>
/// The selftest scenarios of reference 7 (default deny; x2APIC ICR allowed; IA32_MISC_ENABLE read-only;
/// IA32_POWER_CTL write-only) hold for <see cref="CreateDefault"/>, and a table of exactly those three is
/// <c>new MsrTable([..])</c> with the matching <see cref="MsrDefinition"/>s.
/// </remarks>
public sealed class MsrTable
{
    /// <summary>IA32_APIC_BASE.</summary>
    public const uint ApicBase = 0x1B;

    /// <summary>IA32_BIOS_SIGN_ID (microcode update signature).</summary>
    public const uint BiosSignId = 0x8B;

    /// <summary>IA32_FEATURE_CONTROL.</summary>
    public const uint FeatureControl = 0x3A;

    /// <summary>IA32_MISC_ENABLE.</summary>
    public const uint MiscEnable = 0x1A0;

    /// <summary>MSR_IA32_POWER_CTL.</summary>
    public const uint PowerControl = 0x1FC;

    /// <summary>IA32_TSC_DEADLINE.</summary>
    public const uint TscDeadline = 0x6E0;

    /// <summary>x2APIC registers (SDM Vol. 3A, table 11-6): ID, version, TPR, PPR, EOI, LDR, SPIV, ESR, ICR, LVTs, timer.</summary>
    public const uint X2ApicId = 0x802;

    /// <inheritdoc cref="X2ApicId"/>
    public const uint X2ApicVersion = 0x803;

    /// <inheritdoc cref="X2ApicId"/>
    public const uint X2ApicTpr = 0x808;

    /// <inheritdoc cref="X2ApicId"/>
    public const uint X2ApicPpr = 0x80A;

    /// <inheritdoc cref="X2ApicId"/>
    public const uint X2ApicEoi = 0x80B;

    /// <inheritdoc cref="X2ApicId"/>
    public const uint X2ApicLdr = 0x80D;

    /// <inheritdoc cref="X2ApicId"/>
    public const uint X2ApicSpiv = 0x80F;

    /// <inheritdoc cref="X2ApicId"/>
    public const uint X2ApicEsr = 0x828;

    /// <inheritdoc cref="X2ApicId"/>
    public const uint X2ApicIcr = 0x830;

    /// <inheritdoc cref="X2ApicId"/>
    public const uint X2ApicTimerInitialCount = 0x838;

    /// <inheritdoc cref="X2ApicId"/>
    public const uint X2ApicTimerCurrentCount = 0x839;

    /// <inheritdoc cref="X2ApicId"/>
    public const uint X2ApicTimerDivide = 0x83E;

    /// <inheritdoc cref="X2ApicId"/>
    public const uint X2ApicSelfIpi = 0x83F;

    /// <summary>IA32_APIC_BASE at reset: base 0xFEE00000, global enable (bit 11), x2APIC mode (bit 10), BSP (bit 8) on vCPU 0.</summary>
    public static ulong ApicBaseValue(int vcpu) => 0xFEE0_0000UL | (1UL << 11) | (1UL << 10) | (vcpu == 0 ? 1UL << 8 : 0);

    /// <summary>x2APIC logical destination (SDM Vol. 3A 11.12.10.2): cluster = id[19:4] in bits 31:16, bit id[3:0] set.</summary>
    public static ulong X2ApicLogicalId(int vcpu) => ((ulong)(vcpu >> 4) << 16) | (1UL << (vcpu & 0xF));

    private readonly FrozenDictionary<uint, int> _slots;

    /// <summary>Creates a table of <paramref name="definitions"/>.</summary>
    /// <exception cref="ArgumentException">Two definitions share an index.</exception>
    public MsrTable(IEnumerable<MsrDefinition> definitions)
    {
        ArgumentNullException.ThrowIfNull(definitions);
        Definitions = [.. definitions];
        var slots = new Dictionary<uint, int>();
        for (int i = 0; i < Definitions.Count; i++)
        {
            MsrDefinition d = Definitions[i];
            if (!slots.TryAdd(d.Index, i))
            {
                throw new ArgumentException($"MSR 0x{d.Index:X} ({d.Name}) is defined twice", nameof(definitions));
            }
        }

        _slots = slots.ToFrozenDictionary();
    }

    /// <summary>Every definition, in the order given; a definition's position is its slot.</summary>
    public IReadOnlyList<MsrDefinition> Definitions { get; }

    /// <summary>The slot of MSR <paramref name="index"/>, or false when the table denies it.</summary>
    public bool TryGetSlot(uint index, out int slot) => _slots.TryGetValue(index, out slot);

    /// <summary>
    /// The default policy: IA32_APIC_BASE, IA32_FEATURE_CONTROL and IA32_MISC_ENABLE read-only (KVM keeps these
    /// read-only for TDs), IA32_POWER_CTL write-only, IA32_TSC_DEADLINE and the x2APIC register file. The x2APIC
    /// registers are a register file here; the VMM's APIC emulation (VmmCore.Apic.cs) adds what ICR, LVT timer, initial
    /// count and TSC-deadline writes do. IA32_BIOS_SIGN_ID reads 0 and ignores writes, as KVM does.
    /// </summary>
    public static MsrTable CreateDefault()
    {
        const ulong upper32 = 0xFFFF_FFFF_0000_0000; // x2APIC: WRMSR of a 32-bit register with bits 63:32 set is #GP
        const ulong lvtMasked = 1UL << 16;
        var list = new List<MsrDefinition>
        {
            new(ApicBase, "IA32_APIC_BASE", MsrAccess.ReadOnly, MsrScope.Vcpu, ApicBaseValue(0)) { VcpuResetValue = ApicBaseValue },
            // KVM: guest writes are ignored, reads give the microcode revision the host set (0 here).
            new(BiosSignId, "IA32_BIOS_SIGN_ID", MsrAccess.ReadWrite, MsrScope.Vcpu, 0) { IgnoreGuestWrites = true },
            new(FeatureControl, "IA32_FEATURE_CONTROL", MsrAccess.ReadOnly, MsrScope.Vm, 0x1), // locked, VMX off
            new(MiscEnable, "IA32_MISC_ENABLE", MsrAccess.ReadOnly, MsrScope.Vcpu, 0x1800), // BTS and PEBS unavailable
            new(PowerControl, "MSR_IA32_POWER_CTL", MsrAccess.WriteOnly, MsrScope.Vcpu, 0),
            new(TscDeadline, "IA32_TSC_DEADLINE", MsrAccess.ReadWrite, MsrScope.Vcpu, 0),
            new(X2ApicId, "IA32_X2APIC_APICID", MsrAccess.ReadOnly, MsrScope.Vcpu, 0) { VcpuResetValue = v => (ulong)v },
            new(X2ApicVersion, "IA32_X2APIC_VERSION", MsrAccess.ReadOnly, MsrScope.Vcpu, 0x0005_0014), // version 0x14, 6 LVT entries
            new(X2ApicTpr, "IA32_X2APIC_TPR", MsrAccess.ReadWrite, MsrScope.Vcpu, 0, ~0xFFUL),
            new(X2ApicPpr, "IA32_X2APIC_PPR", MsrAccess.ReadOnly, MsrScope.Vcpu, 0),
            new(X2ApicEoi, "IA32_X2APIC_EOI", MsrAccess.WriteOnly, MsrScope.Vcpu, 0, ulong.MaxValue), // only 0 may be written
            new(X2ApicLdr, "IA32_X2APIC_LDR", MsrAccess.ReadOnly, MsrScope.Vcpu, X2ApicLogicalId(0)) { VcpuResetValue = X2ApicLogicalId },
            new(X2ApicSpiv, "IA32_X2APIC_SIVR", MsrAccess.ReadWrite, MsrScope.Vcpu, 0xFF, ~0x11FFUL), // vector, enable, EOI suppression
        };
        for (uint i = 0; i < 8; i++)
        {
            list.Add(new(0x810 + i, $"IA32_X2APIC_ISR{i}", MsrAccess.ReadOnly, MsrScope.Vcpu, 0));
            list.Add(new(0x818 + i, $"IA32_X2APIC_TMR{i}", MsrAccess.ReadOnly, MsrScope.Vcpu, 0));
            list.Add(new(0x820 + i, $"IA32_X2APIC_IRR{i}", MsrAccess.ReadOnly, MsrScope.Vcpu, 0));
        }

        list.AddRange(
        [
            new(X2ApicEsr, "IA32_X2APIC_ESR", MsrAccess.ReadWrite, MsrScope.Vcpu, 0, ulong.MaxValue), // only 0 may be written
            new(0x82F, "IA32_X2APIC_LVT_CMCI", MsrAccess.ReadWrite, MsrScope.Vcpu, lvtMasked, upper32),
            new(X2ApicIcr, "IA32_X2APIC_ICR", MsrAccess.ReadWrite, MsrScope.Vcpu, 0, 0x0000_0000_FFF3_3000), // bits 12, 13, 16, 17, 31:20
            new(0x832, "IA32_X2APIC_LVT_TIMER", MsrAccess.ReadWrite, MsrScope.Vcpu, lvtMasked, upper32),
            new(0x833, "IA32_X2APIC_LVT_THERMAL", MsrAccess.ReadWrite, MsrScope.Vcpu, lvtMasked, upper32),
            new(0x834, "IA32_X2APIC_LVT_PMI", MsrAccess.ReadWrite, MsrScope.Vcpu, lvtMasked, upper32),
            new(0x835, "IA32_X2APIC_LVT_LINT0", MsrAccess.ReadWrite, MsrScope.Vcpu, lvtMasked, upper32),
            new(0x836, "IA32_X2APIC_LVT_LINT1", MsrAccess.ReadWrite, MsrScope.Vcpu, lvtMasked, upper32),
            new(0x837, "IA32_X2APIC_LVT_ERROR", MsrAccess.ReadWrite, MsrScope.Vcpu, lvtMasked, upper32),
            new(X2ApicTimerInitialCount, "IA32_X2APIC_INIT_COUNT", MsrAccess.ReadWrite, MsrScope.Vcpu, 0, upper32),
            new(X2ApicTimerCurrentCount, "IA32_X2APIC_CUR_COUNT", MsrAccess.ReadOnly, MsrScope.Vcpu, 0),
            new(X2ApicTimerDivide, "IA32_X2APIC_DIV_CONF", MsrAccess.ReadWrite, MsrScope.Vcpu, 0, ~0xBUL),
            new(X2ApicSelfIpi, "IA32_X2APIC_SELF_IPI", MsrAccess.WriteOnly, MsrScope.Vcpu, 0, ~0xFFUL),
        ]);
        return new MsrTable(list);
    }
}
