using TdxSim.Runtime.Counters;
using TdxSim.Abi;

namespace TdxSim.Guest.Diagnostics;

/// <summary>
/// What one vCPU did: #VEs by exit reason, TDCALLs by leaf, and round-trip latencies measured on the
/// system clock (virtual time in deterministic mode). Written only by the vCPU's actor; read after the
/// vCPU stopped (the stop message orders the reads after the writes).
/// </summary>
public sealed class VcpuStatistics
{
    private const int ReasonSlots = 72;
    private const int LeafSlots = 32;

    private readonly long[] _veByReason = new long[ReasonSlots];
    private readonly long[] _tdcallByLeaf = new long[LeafSlots];

    /// <summary>Latency of #VE round trips: from the TD exit to the return to guest code.</summary>
    public LatencyHistogram VeLatency { get; } = new();

    /// <summary>Latency of TDCALLs executed by guest code (the paravirt path): from TDCALL to its completion.</summary>
    public LatencyHistogram TdcallLatency { get; } = new();

    /// <summary>TD exits the TDX module emulated without a #VE (CPUID leaves it virtualizes, native MSRs).</summary>
    public long ModuleEmulated { get; private set; }

    /// <summary>Number of #VEs handled.</summary>
    public long VeCount { get; private set; }

    /// <summary>Number of TDCALLs executed by guest code.</summary>
    public long TdcallCount { get; private set; }

    /// <summary>
    /// Round trips (#VE or guest TDCALL) still to run before latencies count: a stress run's warm-up, so that its
    /// figures measure optimized code, not the JIT's first tiers. Zero in an ordinary run.
    /// </summary>
    public long WarmupRoundTrips { get; set; }

    /// <summary>When the first measured round trip began (the runtime's clock, ns), or -1 before it.</summary>
    public long MeasuredFromNs { get; private set; } = -1;

    /// <summary>When the last measured round trip ended (the runtime's clock, ns).</summary>
    public long MeasuredUntilNs { get; private set; }

    /// <summary>Records a #VE round trip from <paramref name="startNs"/> to <paramref name="endNs"/>.</summary>
    public void RecordVe(long startNs, long endNs) => Record(VeLatency, startNs, endNs);

    /// <summary>Records a guest TDCALL from <paramref name="startNs"/> to its completion at <paramref name="endNs"/>.</summary>
    public void RecordTdcall(long startNs, long endNs) => Record(TdcallLatency, startNs, endNs);

    private void Record(LatencyHistogram histogram, long startNs, long endNs)
    {
        if (WarmupRoundTrips > 0)
        {
            WarmupRoundTrips--;
            return;
        }

        if (MeasuredFromNs < 0)
        {
            MeasuredFromNs = startNs;
        }

        MeasuredUntilNs = endNs;
        histogram.Record(endNs - startNs);
    }

    /// <summary>Counts a #VE of <paramref name="reason"/>.</summary>
    public void CountVe(VeExitReason reason)
    {
        VeCount++;
        uint r = (uint)reason;
        _veByReason[r < ReasonSlots ? r : ReasonSlots - 1]++;
    }

    /// <summary>TDG.MEM.PAGE.ACCEPTs the guest kernel re-issued after TDX_OPERAND_BUSY.</summary>
    public long AcceptBusyRetries { get; private set; }

    /// <summary>Counts an accept the guest kernel re-issues after TDX_OPERAND_BUSY.</summary>
    public void CountAcceptBusyRetry() => AcceptBusyRetries++;

    /// <summary>Counts a TD exit the module handled itself.</summary>
    public void CountModuleEmulated() => ModuleEmulated++;

    /// <summary>Pause-loop slices a deterministic run counted without running them (the vCPU was parked in a pure spin).</summary>
    public long SpinSlicesSkipped { get; private set; }

    /// <summary>Counts slices skipped by one park.</summary>
    public void CountSpinSlicesSkipped(ulong slices) => SpinSlicesSkipped += (long)slices;

    /// <summary>Counts a guest TDCALL of <paramref name="leaf"/>.</summary>
    public void CountTdcall(ushort leaf)
    {
        TdcallCount++;
        _tdcallByLeaf[leaf < LeafSlots ? leaf : LeafSlots - 1]++;
    }

    /// <summary>#VEs by exit-reason name, non-zero only.</summary>
    public IEnumerable<KeyValuePair<string, long>> VeByReason()
    {
        for (int i = 0; i < ReasonSlots; i++)
        {
            if (_veByReason[i] != 0)
            {
                yield return new(VeExitReasonInfo.Name((uint)i), _veByReason[i]);
            }
        }
    }

    /// <summary>Guest TDCALLs by leaf spec name, non-zero only.</summary>
    public IEnumerable<KeyValuePair<string, long>> TdcallByLeaf()
    {
        for (int i = 0; i < LeafSlots; i++)
        {
            if (_tdcallByLeaf[i] != 0)
            {
                yield return new(TdcallLeafInfo.SpecName((ushort)i), _tdcallByLeaf[i]);
            }
        }
    }
}
