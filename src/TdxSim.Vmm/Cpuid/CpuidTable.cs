using System.Collections.Frozen;

namespace TdxSim.Vmm.Cpuid;

/// <summary>
/// The VMM's CPUID table, the answer to TDG.VP.VMCALL&lt;Instruction.CPUID&gt; (KVM answers from its table without
/// exiting to user space; reference 6.1). Lookups follow the hardware rules KVM copies: a basic or extended leaf above
/// the maximum of its range returns the highest basic leaf (SDM Vol. 2A, CPUID, "INPUT EAX = 0"), a hypervisor leaf
/// (0x40000000-0x4FFFFFFF) above the maximum returns zeros, and a sub-leaf the table lacks returns zeros. The APIC id
/// fields (leaf 1 EBX[31:24], leaves 0xB and 0x1F EDX) are filled with the vCPU index. Immutable.
/// </summary>
public sealed class CpuidTable
{
    /// <summary>The hypervisor range.</summary>
    public const uint HypervisorBase = 0x4000_0000;

    /// <summary>The extended range.</summary>
    public const uint ExtendedBase = 0x8000_0000;

    /// <summary>The vendor signature of leaf 0x40000000 (EBX, ECX, EDX).</summary>
    public const string HypervisorSignature = "TdxSimTdxSim";

    /// <summary>KVM's signature, "KVMKVMKVM" and three NULs.</summary>
    public const string KvmSignature = "KVMKVMKVM\0\0\0";

    private readonly FrozenDictionary<ulong, CpuidResult> _entries;
    private readonly FrozenSet<uint> _subleafLeaves;

    /// <summary>Creates a table of <paramref name="entries"/>.</summary>
    /// <exception cref="ArgumentException">Duplicate (leaf, sub-leaf), or a leaf given both with and without a sub-leaf.</exception>
    public CpuidTable(IEnumerable<CpuidEntry> entries)
    {
        ArgumentNullException.ThrowIfNull(entries);
        Entries = [.. entries];
        var map = new Dictionary<ulong, CpuidResult>();
        var indexed = new HashSet<uint>();
        var plain = new HashSet<uint>();
        foreach (CpuidEntry e in Entries)
        {
            (e.Subleaf is null ? plain : indexed).Add(e.Leaf);
            if (!map.TryAdd(Key(e.Leaf, e.Subleaf ?? 0), e.Result) || (indexed.Contains(e.Leaf) && plain.Contains(e.Leaf)))
            {
                throw new ArgumentException($"CPUID leaf 0x{e.Leaf:X} sub-leaf {e.Subleaf?.ToString("X") ?? "*"} is defined twice", nameof(entries));
            }
        }

        _entries = map.ToFrozenDictionary();
        _subleafLeaves = indexed.ToFrozenSet();
    }

    /// <summary>Every entry as given.</summary>
    public IReadOnlyList<CpuidEntry> Entries { get; }

    /// <summary>CPUID(<paramref name="leaf"/>, <paramref name="subleaf"/>) as vCPU <paramref name="vcpu"/> sees it.</summary>
    public CpuidResult Lookup(uint leaf, uint subleaf, int vcpu)
    {
        uint rangeBase = leaf >= ExtendedBase ? ExtendedBase : leaf >= HypervisorBase && leaf < 0x5000_0000 ? HypervisorBase : 0;
        uint max = _entries.TryGetValue(Key(rangeBase, 0), out CpuidResult head) ? head.Eax : 0;
        if (leaf > max)
        {
            if (rangeBase == HypervisorBase)
            {
                return default;
            }

            // Out of range: the highest basic leaf, with its sub-leaf rule.
            leaf = _entries.TryGetValue(Key(0, 0), out CpuidResult basic) ? basic.Eax : 0;
        }

        bool indexed = _subleafLeaves.Contains(leaf);
        CpuidResult r = _entries.TryGetValue(Key(leaf, indexed ? subleaf : 0), out CpuidResult found) ? found : default;
        return leaf switch
        {
            1 => r with { Ebx = (r.Ebx & 0x00FF_FFFF) | ((uint)vcpu << 24) },
            0xB or 0x1F => r with { Edx = (uint)vcpu },
            _ => r,
        };
    }

    /// <summary>
    /// A KVM-like table for a Sapphire Rapids host: leaves 0, 1, 7, 0x40000000-0x40000001, 0x80000000, 0x80000001,
    /// 0x80000008. Leaf 0x40000000 returns the maximum hypervisor leaf and "TdxSimTdxSim"; 0x40000001 (paravirt
    /// features) is all zeros: none offered. <paramref name="hypervisorSignature"/> replaces the signature (a Linux
    /// guest is given KVM's, <see cref="KvmSignature"/>, as KVM's TDX guests see it: Linux then keeps x2APIC mode
    /// without interrupt remapping, and with no paravirt feature bits uses nothing else of KVM's).
    /// </summary>
    public static CpuidTable CreateDefault(string hypervisorSignature = HypervisorSignature)
    {
        (uint vb, uint vd, uint vc) = CpuidResult.PackSignature("GenuineIntel"); // EBX, EDX, ECX order
        (uint hb, uint hc, uint hd) = CpuidResult.PackSignature(hypervisorSignature); // EBX, ECX, EDX order

        const uint leaf1Ecx =
            (1u << 0) | (1u << 1) | (1u << 9)      // SSE3, PCLMULQDQ, SSSE3
            | (1u << 12) | (1u << 13) | (1u << 17) // FMA, CMPXCHG16B, PCID
            | (1u << 19) | (1u << 20) | (1u << 21) // SSE4.1, SSE4.2, x2APIC
            | (1u << 22) | (1u << 23) | (1u << 24) // MOVBE, POPCNT, TSC-deadline
            | (1u << 25) | (1u << 26) | (1u << 28) // AES, XSAVE, AVX
            | (1u << 29) | (1u << 30) | (1u << 31); // F16C, RDRAND, hypervisor present
        const uint leaf1Edx =
            (1u << 0) | (1u << 1) | (1u << 2) | (1u << 3)       // FPU, VME, DE, PSE
            | (1u << 4) | (1u << 5) | (1u << 6) | (1u << 7)     // TSC, MSR, PAE, MCE
            | (1u << 8) | (1u << 9) | (1u << 11) | (1u << 12)   // CX8, APIC, SEP, MTRR
            | (1u << 13) | (1u << 14) | (1u << 15) | (1u << 16) // PGE, MCA, CMOV, PAT
            | (1u << 17) | (1u << 19) | (1u << 23) | (1u << 24) // PSE-36, CLFSH, MMX, FXSR
            | (1u << 25) | (1u << 26) | (1u << 27);             // SSE, SSE2, SS
        const uint leaf7Ebx =
            (1u << 0) | (1u << 3) | (1u << 5) | (1u << 7)       // FSGSBASE, BMI1, AVX2, SMEP
            | (1u << 8) | (1u << 9) | (1u << 10) | (1u << 18)   // BMI2, ERMS, INVPCID, RDSEED
            | (1u << 19) | (1u << 20) | (1u << 23) | (1u << 24) // ADX, SMAP, CLFLUSHOPT, CLWB
            | (1u << 29);                                       // SHA

        return new CpuidTable(
        [
            new(0, null, new(0x21, vb, vc, vd)),                  // maximum basic leaf (0x21: TDX enumeration), "GenuineIntel"
            new(1, null, new(0x0008_06F8, 8u << 8 | 1u << 16, leaf1Ecx, leaf1Edx)), // family 6 model 0x8F stepping 8; CLFLUSH 64 B
            new(7, 0, new(0, leaf7Ebx, 0, 0)),
            new(HypervisorBase, null, new(HypervisorBase + 1, hb, hc, hd)),
            new(HypervisorBase + 1, null, default),
            new(ExtendedBase, null, new(ExtendedBase + 8, 0, 0, 0)),
            new(ExtendedBase + 1, null, new(0, 0, (1u << 0) | (1u << 5) | (1u << 8), (1u << 11) | (1u << 20) | (1u << 26) | (1u << 27) | (1u << 29))), // LAHF, LZCNT, PREFETCHW; SYSCALL, NX, 1 GiB pages, RDTSCP, LM
            new(ExtendedBase + 8, null, new(0x0030_3030, 0, 0, 0)), // 48 physical, 48 linear, 48 guest-physical address bits (GPAW 48)
        ]);
    }

    private static ulong Key(uint leaf, uint subleaf) => ((ulong)leaf << 32) | subleaf;
}
