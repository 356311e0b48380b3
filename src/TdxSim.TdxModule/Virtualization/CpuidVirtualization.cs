using System.Numerics;
using TdxSim.Abi;

namespace TdxSim.TdxModule.Virtualization;

/// <summary>
/// The CPUID leaves the TDX module answers itself, with no #VE ([MOD] src/td_dispatcher/vm_exits/td_cpuid.c;
/// contract section 3). Every other leaf #VEs; the guest kernel then asks the VMM (hypervisor range) or returns zeros.
/// <para>Answered here:</para>
/// <list type="table">
/// <item><term>0x0</term><description>EAX = 0x21 (max basic leaf, so Linux finds leaf 0x21); "GenuineIntel" in EBX, EDX, ECX.</description></item>
/// <item><term>0x1</term><description>EAX = <see cref="TdxModuleOptions.CpuidSignature"/>; EBX[31:24] = vCPU index (initial APIC ID),
/// EBX[23:16] = addressable logical-processor IDs (power of two ≥ MAX_VCPUS, at most 255), EBX[15:8] = 8 (CLFLUSH line 64 B);
/// ECX = SSE3, CX16, x2APIC, POPCNT, TSC-deadline (the VMM emulates IA32_TSC_DEADLINE), XSAVE, RDRAND, hypervisor (bit 31); EDX = FPU, PSE, TSC, MSR, PAE, CX8, APIC, SEP, PGE, CMOV, PAT,
/// CLFSH, FXSR, SSE, SSE2 and HTT when MAX_VCPUS &gt; 1. MCE/MCA/MTRR read 0, as the module clears them when the TD
/// does not virtualize them; OSXSAVE reads 0 (the module does not see CR4).</description></item>
/// <item><term>0x7</term><description>Every sub-leaf: all zero (no extended features; sub-leaf 0 EAX = 0).</description></item>
/// <item><term>0xD</term><description>XSAVE: sub-leaf 0 EAX = x87 | SSE (what XCR0 may hold), EBX = ECX = 576 (legacy
/// region and header), EDX = 0; sub-leaf 1 EAX = 0 (no XSAVEOPT, XSAVEC, XGETBV1, XSAVES); other sub-leaves zero.</description></item>
/// <item><term>0xB</term><description>x2APIC topology while TD_CTLS.ENUM_TOPOLOGY is set (else #VE, as the module does): one
/// thread per core, MAX_VCPUS cores in one package; EDX = x2APIC ID = vCPU index.</description></item>
/// <item><term>0x15</term><description>TSC/crystal: EAX = 1, EBX = TSC frequency / 25 MHz, ECX = 25 MHz.</description></item>
/// <item><term>0x21</term><description>Sub-leaf 0: EAX = 0, "IntelTDX    " in EBX, EDX, ECX. Other sub-leaves #VE.</description></item>
/// <item><term>0x80000000</term><description>EAX = 0x80000008 (max extended leaf).</description></item>
/// <item><term>0x80000001</term><description>ECX = LAHF/SAHF; EDX = SYSCALL (the TD runs in 64-bit mode), NX, LM.</description></item>
/// <item><term>0x80000007</term><description>EDX bit 8: invariant TSC (TDX guarantees it).</description></item>
/// <item><term>0x80000008</term><description>EAX[7:0] = 48 physical-address bits (= GPAW, so every GPA including the shared
/// bit is legal), EAX[15:8] = 48 linear-address bits.</description></item>
/// </list>
/// <para>
/// Always #VE: 0x40000000–0x4FFFFFFF (hypervisor range). A leaf above the maximum of its range is answered as the
/// maximum basic leaf, as Intel CPUs and the module do. Leaves the real module also answers from its host-derived
/// tables (cache enumeration: 0x4, 0x14, 0x19, 0x1D, 0x1E, 0x80000006) #VE here rather than
/// report sizes TdxSim's CPU does not implement; a #VE'd leaf reads zeros in the guest, which is consistent.
/// </para>
/// </summary>
public sealed class CpuidVirtualization
{
    /// <summary>Maximum basic leaf reported in CPUID(0).EAX.</summary>
    public const uint MaxBasicLeaf = 0x21;

    /// <summary>Maximum extended leaf reported in CPUID(0x80000000).EAX.</summary>
    public const uint MaxExtendedLeaf = 0x8000_0008;

    /// <summary>First leaf of the hypervisor range, which always #VEs.</summary>
    public const uint HypervisorRangeFirst = 0x4000_0000;

    /// <summary>Last leaf of the hypervisor range.</summary>
    public const uint HypervisorRangeLast = 0x4FFF_FFFF;

    /// <summary>The TDX leaf.</summary>
    public const uint TdxLeaf = 0x21;

    // "Genu" "ineI" "ntel" and "Inte" "lTDX" "    " as little-endian dwords.
    private const uint Genu = 0x756E_6547;
    private const uint IneI = 0x4965_6E69;
    private const uint Ntel = 0x6C65_746E;
    private const uint Inte = 0x6574_6E49;
    private const uint LTdx = 0x5844_546C;
    private const uint Spaces = 0x2020_2020;

    private const uint Leaf1Ecx = (1u << 0) | (1u << 13) | (1u << 21) | (1u << 23) | (1u << 24) | (1u << 26) | (1u << 30) | (1u << 31);
    private const uint Leaf1Edx = (1u << 0) | (1u << 3) | (1u << 4) | (1u << 5) | (1u << 6) | (1u << 8) | (1u << 9)
                                  | (1u << 11) | (1u << 13) | (1u << 15) | (1u << 16) | (1u << 19) | (1u << 24)
                                  | (1u << 25) | (1u << 26);

    private const uint HttBit = 1u << 28;
    private const uint CrystalHz = 25_000_000;

    private readonly uint _signature;
    private readonly uint _leaf1EbxStatic;
    private readonly uint _leaf1Edx;
    private readonly uint _coreShift;
    private readonly uint _numVcpus;
    private readonly uint _tscRatio;

    /// <summary>Builds the table for one TD.</summary>
    public CpuidVirtualization(TdxModuleOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        int max = options.ResolvedMaxVcpus;
        _signature = options.CpuidSignature;
        _coreShift = (uint)BitOperations.Log2(BitOperations.RoundUpToPowerOf2((uint)max));
        uint addressable = Math.Min(1u << (int)_coreShift, 255u);
        _leaf1EbxStatic = (addressable << 16) | (8u << 8);
        _leaf1Edx = Leaf1Edx | (max > 1 ? HttBit : 0);
        _numVcpus = (uint)options.NumVcpus;
        _tscRatio = (uint)(options.TscFrequencyHz / CrystalHz);
    }

    /// <summary>
    /// Answers CPUID(<paramref name="leaf"/>, <paramref name="subleaf"/>) for vCPU <paramref name="vcpu"/>, or returns false
    /// when the module injects #VE instead.
    /// </summary>
    /// <param name="leaf">EAX at CPUID.</param>
    /// <param name="subleaf">ECX at CPUID.</param>
    /// <param name="vcpu">The vCPU index (x2APIC ID).</param>
    /// <param name="tdCtls">The current TD_CTLS (ENUM_TOPOLOGY gates leaf 0xB).</param>
    /// <param name="result">The four registers when true.</param>
    public bool TryGet(uint leaf, uint subleaf, int vcpu, ulong tdCtls, out CpuidResult result)
    {
        result = default;
        if (leaf is >= HypervisorRangeFirst and <= HypervisorRangeLast)
        {
            return false;
        }

        if (leaf > MaxExtendedLeaf || (leaf > MaxBasicLeaf && leaf < 0x8000_0000))
        {
            leaf = MaxBasicLeaf;
        }

        uint apicId = (uint)vcpu;
        switch (leaf)
        {
            case 0x0:
                result = new CpuidResult(MaxBasicLeaf, Genu, Ntel, IneI);
                return true;
            case 0x1:
                result = new CpuidResult(_signature, ((apicId & 0xFF) << 24) | _leaf1EbxStatic, Leaf1Ecx, _leaf1Edx);
                return true;
            case 0x7:
                result = default;
                return true;
            case 0xD:
                result = subleaf == 0 ? new CpuidResult(0x3, 576, 576, 0) : default;
                return true;
            case 0xB:
                if ((tdCtls & TdCtls.EnumTopology) == 0)
                {
                    return false;
                }

                result = subleaf switch
                {
                    // SMT level: one thread per core.
                    0 => new CpuidResult(0, 1, (1u << 8) | 0, apicId),

                    // Core level: every vCPU is a core of one package.
                    1 => new CpuidResult(_coreShift, _numVcpus, (2u << 8) | 1, apicId),

                    // Invalid level: ECX[7:0] echoes the sub-leaf, type 0.
                    _ => new CpuidResult(0, 0, subleaf & 0xFF, apicId),
                };
                return true;
            case 0x15:
                result = new CpuidResult(1, _tscRatio, CrystalHz, 0);
                return true;
            case TdxLeaf:
                if (subleaf != 0)
                {
                    return false;
                }

                result = new CpuidResult(0, Inte, Spaces, LTdx);
                return true;
            case 0x8000_0000:
                result = new CpuidResult(MaxExtendedLeaf, 0, 0, 0);
                return true;
            case 0x8000_0001:
                result = new CpuidResult(0, 0, 1u << 0, (1u << 11) | (1u << 20) | (1u << 29));
                return true;
            case 0x8000_0007:
                result = new CpuidResult(0, 0, 0, 1u << 8);
                return true;
            case 0x8000_0008:
                result = new CpuidResult((uint)GuestPhysical.Gpaw | (48u << 8), 0, 0, 0);
                return true;
            default:
                return false;
        }
    }
}
