using TdxSim.Abi;
using TdxSim.Abi.Messages;

namespace TdxSim.TdxModule;

/// <summary>
/// Event counters of one TDX module for the final state dump (contract section 8): TDCALLs per leaf, completion
/// statuses per class, TD exits per reason, TD-entry actions, and the TDG.VP.VMCALL round trips. Lock-free
/// (Interlocked on fixed arrays), so counting allocates nothing and is safe from any thread.
/// </summary>
public sealed class TdxModuleCounters
{
    private const int LeafSlots = 128;
    private const int ReasonSlots = 128;

    private static readonly ulong[] KnownStatusClasses =
    [
        TdxStatus.Success,
        TdxStatus.OperandInvalid,
        TdxStatus.OperandBusy,
        TdxStatus.NoValidVeInfo,
        TdxStatus.PageAlreadyAccepted,
        TdxStatus.PageSizeMismatch,
        TdxStatus.MetadataFieldIdIncorrect,
        TdxStatus.MetadataFieldNotWritable,
        TdxStatus.MetadataFieldNotReadable,
        TdxModuleStatus.MetadataFieldValueNotValid,
        TdxModuleStatus.MetadataFirstFieldIdInContext,
    ];

    private readonly long[] _leaves = new long[LeafSlots + 1];
    private readonly long[] _statuses = new long[KnownStatusClasses.Length + 1];
    private readonly long[] _exits = new long[ReasonSlots + 1];
    private readonly long[] _entries = new long[Enum.GetValues<TdEntryAction>().Length];
    private long _vmcallsForwarded;
    private long _vmcallsCompleted;
    private long _vmcallRepliesRejected;
    private long _vmcallSelectMismatches;

    /// <summary>TDG.VP.VMCALLs handed to the VMM.</summary>
    public long VmcallsForwarded => Interlocked.Read(ref _vmcallsForwarded);

    /// <summary>TDG.VP.VMCALLs completed with the VMM's answer.</summary>
    public long VmcallsCompleted => Interlocked.Read(ref _vmcallsCompleted);

    /// <summary>VMM replies refused: no TDG.VP.VMCALL in flight on that vCPU, or no such vCPU.</summary>
    public long VmcallRepliesRejected => Interlocked.Read(ref _vmcallRepliesRejected);

    /// <summary>VMM replies whose echoed GPR_SELECT differed from the guest's (ignored: the module uses its own copy).</summary>
    public long VmcallSelectMismatches => Interlocked.Read(ref _vmcallSelectMismatches);

    /// <summary>TDCALLs seen for <paramref name="leaf"/>.</summary>
    public long Leaf(ushort leaf) => Interlocked.Read(ref _leaves[Math.Min((int)leaf, LeafSlots)]);

    /// <summary>Completions whose status class (bits 63:32) equals that of <paramref name="status"/>.</summary>
    public long Status(ulong status) => Interlocked.Read(ref _statuses[StatusSlot(status)]);

    /// <summary>TD exits seen for <paramref name="reason"/>.</summary>
    public long Exit(VeExitReason reason) => Interlocked.Read(ref _exits[Math.Min((int)reason, ReasonSlots)]);

    /// <summary>TD entries with <paramref name="action"/>.</summary>
    public long Entry(TdEntryAction action) => Interlocked.Read(ref _entries[(int)action]);

    /// <summary>Every non-zero counter by a stable name, e.g. <c>tdcall.TDG.VP.INFO</c>, <c>status.TDX_SUCCESS</c>, <c>tdexit.CPUID</c>.</summary>
    public IReadOnlyDictionary<string, long> Snapshot()
    {
        var result = new SortedDictionary<string, long>(StringComparer.Ordinal);
        for (int i = 0; i < _leaves.Length; i++)
        {
            Add(result, i < LeafSlots ? $"tdcall.{TdcallLeafInfo.SpecName((ushort)i)}" : "tdcall.other", Interlocked.Read(ref _leaves[i]));
        }

        for (int i = 0; i < _statuses.Length; i++)
        {
            Add(result, i < KnownStatusClasses.Length ? $"status.{TdxModuleStatus.Name(KnownStatusClasses[i])}" : "status.other", Interlocked.Read(ref _statuses[i]));
        }

        for (int i = 0; i < _exits.Length; i++)
        {
            Add(result, i < ReasonSlots ? $"tdexit.{VeExitReasonInfo.Name((uint)i)}" : "tdexit.other", Interlocked.Read(ref _exits[i]));
        }

        for (int i = 0; i < _entries.Length; i++)
        {
            Add(result, $"tdentry.{(TdEntryAction)i}", Interlocked.Read(ref _entries[i]));
        }

        Add(result, "vmcall.forwarded", VmcallsForwarded);
        Add(result, "vmcall.completed", VmcallsCompleted);
        Add(result, "vmcall.replies_rejected", VmcallRepliesRejected);
        Add(result, "vmcall.select_mismatches", VmcallSelectMismatches);
        return result;
    }

    internal void CountLeaf(ushort leaf) => Interlocked.Increment(ref _leaves[Math.Min((int)leaf, LeafSlots)]);

    internal void CountStatus(ulong status) => Interlocked.Increment(ref _statuses[StatusSlot(status)]);

    internal void CountExit(VeExitReason reason) => Interlocked.Increment(ref _exits[Math.Min((int)reason, ReasonSlots)]);

    internal void CountEntry(TdEntryAction action) => Interlocked.Increment(ref _entries[(int)action]);

    internal void CountVmcallForwarded() => Interlocked.Increment(ref _vmcallsForwarded);

    internal void CountVmcallCompleted() => Interlocked.Increment(ref _vmcallsCompleted);

    internal void CountVmcallReplyRejected() => Interlocked.Increment(ref _vmcallRepliesRejected);

    internal void CountVmcallSelectMismatch() => Interlocked.Increment(ref _vmcallSelectMismatches);

    private static int StatusSlot(ulong status)
    {
        ulong cls = TdxStatus.ClassOf(status);
        for (int i = 0; i < KnownStatusClasses.Length; i++)
        {
            if (KnownStatusClasses[i] == cls)
            {
                return i;
            }
        }

        return KnownStatusClasses.Length;
    }

    private static void Add(SortedDictionary<string, long> into, string name, long value)
    {
        if (value != 0)
        {
            into[name] = value;
        }
    }
}
