using TdxSim.Abi;
using TdxSim.Abi.Messages;

namespace TdxSim.TdxModule;

/// <summary>
/// Event counters of one TDX module for the final state dump (contract section 8): TDCALLs per leaf, completion
/// statuses per class, TD exits per reason, TD-entry actions, and the TDG.VP.VMCALL round trips.
/// <para>
/// Counting allocates nothing and takes no atomic instruction on the hot path: every vCPU has its own block, and a
/// vCPU's events are serialized by the protocol (one request in flight; a VMCALL completion is claimed atomically
/// before it counts). Only replies the module refuses, which may come from any thread at any time, use Interlocked.
/// Readers sum the blocks; a read while vCPUs run may lag by the events in flight.
/// </para>
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
        TdxStatus.MetadataFieldValueNotValid,
        TdxStatus.MetadataFirstFieldIdInContext,
    ];

    private static readonly int EntrySlots = Enum.GetValues<TdEntryAction>().Length;

    private readonly Block[] _blocks;
    private long _vmcallRepliesRejected;
    private long _vmcallSelectMismatches;

    internal TdxModuleCounters(int vcpus)
    {
        _blocks = new Block[vcpus];
        for (int i = 0; i < vcpus; i++)
        {
            _blocks[i] = new Block();
        }
    }

    /// <summary>TDG.VP.VMCALLs handed to the VMM.</summary>
    public long VmcallsForwarded => Sum(static b => b.VmcallsForwarded);

    /// <summary>TDG.VP.VMCALLs completed with the VMM's answer.</summary>
    public long VmcallsCompleted => Sum(static b => b.VmcallsCompleted);

    /// <summary>VMM replies refused: no TDG.VP.VMCALL in flight on that vCPU, or no such vCPU.</summary>
    public long VmcallRepliesRejected => Interlocked.Read(ref _vmcallRepliesRejected);

    /// <summary>VMM replies whose echoed GPR_SELECT differed from the guest's (ignored: the module uses its own copy).</summary>
    public long VmcallSelectMismatches => Interlocked.Read(ref _vmcallSelectMismatches);

    /// <summary>TDCALLs seen for <paramref name="leaf"/>.</summary>
    public long Leaf(ushort leaf) => Sum(b => b.Leaves[LeafSlot(leaf)]);

    /// <summary>Completions whose status class (bits 63:32) equals that of <paramref name="status"/>.</summary>
    public long Status(ulong status) => Sum(b => b.Statuses[StatusSlot(status)]);

    /// <summary>TD exits seen for <paramref name="reason"/>.</summary>
    public long Exit(VeExitReason reason) => Sum(b => b.Exits[ReasonSlot(reason)]);

    /// <summary>TD entries with <paramref name="action"/>.</summary>
    public long Entry(TdEntryAction action) => Sum(b => b.Entries[(int)action]);

    /// <summary>Every non-zero counter by a stable name, e.g. <c>tdcall.TDG.VP.INFO</c>, <c>status.TDX_SUCCESS</c>, <c>tdexit.CPUID</c>.</summary>
    public IReadOnlyDictionary<string, long> Snapshot()
    {
        var result = new SortedDictionary<string, long>(StringComparer.Ordinal);
        for (int i = 0; i <= LeafSlots; i++)
        {
            Add(result, i < LeafSlots ? $"tdcall.{TdcallLeafInfo.SpecName((ushort)i)}" : "tdcall.other", Sum(b => b.Leaves[i]));
        }

        for (int i = 0; i <= KnownStatusClasses.Length; i++)
        {
            Add(result, i < KnownStatusClasses.Length ? $"status.{TdxStatus.Name(KnownStatusClasses[i])}" : "status.other", Sum(b => b.Statuses[i]));
        }

        for (int i = 0; i <= ReasonSlots; i++)
        {
            Add(result, i < ReasonSlots ? $"tdexit.{VeExitReasonInfo.Name((uint)i)}" : "tdexit.other", Sum(b => b.Exits[i]));
        }

        for (int i = 0; i < EntrySlots; i++)
        {
            Add(result, $"tdentry.{(TdEntryAction)i}", Sum(b => b.Entries[i]));
        }

        Add(result, "accept.success", AcceptsSucceeded);
        Add(result, "accept.already_accepted", AcceptsAlreadyAccepted);
        Add(result, "accept.operand_busy", AcceptsBusy);
        Add(result, "vmcall.forwarded", VmcallsForwarded);
        Add(result, "vmcall.completed", VmcallsCompleted);
        Add(result, "vmcall.replies_rejected", VmcallRepliesRejected);
        Add(result, "vmcall.select_mismatches", VmcallSelectMismatches);
        return result;
    }

    /// <summary>TDG.MEM.PAGE.ACCEPTs that accepted pending pages (TDX_SUCCESS).</summary>
    public long AcceptsSucceeded => Sum(static b => b.Accepts[AcceptSuccess]);

    /// <summary>TDG.MEM.PAGE.ACCEPTs that found the page accepted already (the TDX_PAGE_ALREADY_ACCEPTED warning).</summary>
    public long AcceptsAlreadyAccepted => Sum(static b => b.Accepts[AcceptAlready]);

    /// <summary>TDG.MEM.PAGE.ACCEPTs answered TDX_OPERAND_BUSY because another vCPU's accept held the SEPT entry.</summary>
    public long AcceptsBusy => Sum(static b => b.Accepts[AcceptBusy]);

    internal const int AcceptSuccess = 0;
    internal const int AcceptAlready = 1;
    internal const int AcceptBusy = 2;

    internal void CountAccept(int vcpu, int outcome) => _blocks[vcpu].Accepts[outcome]++;

    internal void CountLeaf(int vcpu, ushort leaf) => _blocks[vcpu].Leaves[LeafSlot(leaf)]++;

    internal void CountStatus(int vcpu, ulong status) => _blocks[vcpu].Statuses[StatusSlot(status)]++;

    internal void CountExit(int vcpu, VeExitReason reason) => _blocks[vcpu].Exits[ReasonSlot(reason)]++;

    internal void CountEntry(int vcpu, TdEntryAction action) => _blocks[vcpu].Entries[(int)action]++;

    internal void CountVmcallForwarded(int vcpu) => _blocks[vcpu].VmcallsForwarded++;

    internal void CountVmcallCompleted(int vcpu) => _blocks[vcpu].VmcallsCompleted++;

    internal void CountVmcallReplyRejected() => Interlocked.Increment(ref _vmcallRepliesRejected);

    internal void CountVmcallSelectMismatch() => Interlocked.Increment(ref _vmcallSelectMismatches);

    private static int LeafSlot(ushort leaf) => Math.Min((int)leaf, LeafSlots);

    private static int ReasonSlot(VeExitReason reason) => (uint)reason < ReasonSlots ? (int)reason : ReasonSlots;

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

    private long Sum(Func<Block, long> read)
    {
        Interlocked.MemoryBarrier();
        long total = 0;
        foreach (Block b in _blocks)
        {
            total += read(b);
        }

        return total;
    }

    private static void Add(SortedDictionary<string, long> into, string name, long value)
    {
        if (value != 0)
        {
            into[name] = value;
        }
    }

    /// <summary>One vCPU's counters; written only by the thread serving that vCPU's current request.</summary>
    private sealed class Block
    {
        public readonly long[] Leaves = new long[LeafSlots + 1];
        public readonly long[] Statuses = new long[KnownStatusClasses.Length + 1];
        public readonly long[] Exits = new long[ReasonSlots + 1];
        public readonly long[] Entries = new long[EntrySlots];
        public readonly long[] Accepts = new long[3];
        public long VmcallsForwarded;
        public long VmcallsCompleted;
    }
}
