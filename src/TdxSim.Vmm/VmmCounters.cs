using TdxSim.Abi;

namespace TdxSim.Vmm;

/// <summary>
/// TDVMCALL counts per sub-function and outcome, and MapGPA and GetQuote totals, for the final-state dump.
/// <para>
/// Each vCPU has its own array, written only while that vCPU's TDVMCALL is handled; calls of one vCPU never overlap
/// (it waits for its reply), so increments need no atomics and vCPUs never share a cache line here. Snapshots read
/// each count atomically; a snapshot taken while vCPUs run is a consistent-enough view, one taken after they stop is
/// exact. GetQuote completions, which run on the VMM's timer, are counted with interlocked adds.
/// </para>
/// </summary>
public sealed class VmmCounters
{
    /// <summary>Outcome column names: the TDVMCALL statuses, KVM's -ENOSYS, and the two no-reply-now outcomes.</summary>
    private static readonly string[] OutcomeNames =
        ["SUCCESS", "RETRY", "INVALID_OPERAND", "GPA_INUSE", "ALIGN_ERROR", "SUBFUNC_UNSUPPORTED", "ENOSYS", "OTHER", "halted", "no_reply"];

    /// <summary>The rows of standard sub-functions; <see cref="RowOf"/> maps each to its index here.</summary>
    private static readonly TdVmcallSubfunction[] Rows =
    [
        TdVmcallSubfunction.InstructionCpuid, TdVmcallSubfunction.InstructionHlt, TdVmcallSubfunction.InstructionIo,
        TdVmcallSubfunction.InstructionRdmsr, TdVmcallSubfunction.InstructionWrmsr, TdVmcallSubfunction.VeRequestMmio,
        TdVmcallSubfunction.InstructionWbinvd, TdVmcallSubfunction.InstructionPconfig, TdVmcallSubfunction.GetTdVmCallInfo,
        TdVmcallSubfunction.MapGpa, TdVmcallSubfunction.GetQuote, TdVmcallSubfunction.ReportFatalError,
        TdVmcallSubfunction.SetupEventNotifyInterrupt, TdVmcallSubfunction.Service,
    ];

    /// <summary>Row names: the GHCI names of <see cref="Rows"/>, then the catch-alls.</summary>
    private static readonly string[] RowNames =
        [.. Rows.Select(s => TdVmcall.SubfunctionName((ulong)s)), "other", "kvm_hypercall"];

    private const int Columns = 10;
    private const int EnosysColumn = 6;
    private const int HaltedColumn = 8;
    private const int NoReplyColumn = 9;
    private static readonly int OtherRow = RowNames.Length - 2;
    private static readonly int HypercallRow = RowNames.Length - 1;
    private static readonly int CallSlots = RowNames.Length * Columns;
    private static readonly int BytesToSharedSlot = CallSlots;
    private static readonly int BytesToPrivateSlot = CallSlots + 1;

    private readonly long[][] _perVcpu;
    private long _quotesCompleted;
    private long _quotesFailed;

    /// <summary>Counters for <paramref name="vcpuCount"/> vCPUs.</summary>
    public VmmCounters(int vcpuCount)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(vcpuCount, 1);
        _perVcpu = new long[vcpuCount][];
        for (int v = 0; v < vcpuCount; v++)
        {
            _perVcpu[v] = new long[CallSlots + 2];
        }
    }

    /// <summary>A completed standard TDVMCALL.</summary>
    internal void Completed(int vcpu, ulong subfunction, ulong status) => _perVcpu[vcpu][(RowOf(subfunction) * Columns) + ColumnOf(status)]++;

    /// <summary>A KVM hypercall (R10 ≠ 0).</summary>
    internal void Hypercall(int vcpu) => _perVcpu[vcpu][(HypercallRow * Columns) + EnosysColumn]++;

    /// <summary>An Instruction.HLT that blocked the vCPU.</summary>
    internal void Halted(int vcpu) => _perVcpu[vcpu][(RowOf((ulong)TdVmcallSubfunction.InstructionHlt) * Columns) + HaltedColumn]++;

    /// <summary>A ReportFatalError left without a reply.</summary>
    internal void NoReply(int vcpu, ulong subfunction) => _perVcpu[vcpu][(RowOf(subfunction) * Columns) + NoReplyColumn]++;

    internal void Converted(int vcpu, bool toShared, ulong bytes) =>
        _perVcpu[vcpu][toShared ? BytesToSharedSlot : BytesToPrivateSlot] += (long)bytes;

    internal void QuoteFinished(bool success) => Interlocked.Increment(ref success ? ref _quotesCompleted : ref _quotesFailed);

    /// <summary>Calls of <paramref name="subfunction"/>, summed over vCPUs, that ended with TDVMCALL status <paramref name="status"/>.</summary>
    public long Count(TdVmcallSubfunction subfunction, ulong status) => Sum((RowOf((ulong)subfunction) * Columns) + ColumnOf(status));

    /// <summary>
    /// Every non-zero counter, summed over vCPUs: <c>tdvmcall.&lt;GHCI name&gt;.&lt;status&gt;</c> (e.g.
    /// <c>tdvmcall.Instruction.IO.SUCCESS</c>, <c>tdvmcall.Instruction.HLT.halted</c>, <c>tdvmcall.kvm_hypercall.ENOSYS</c>,
    /// <c>tdvmcall.other.SUBFUNC_UNSUPPORTED</c>), <c>mapgpa.bytes_to_shared</c>, <c>mapgpa.bytes_to_private</c>,
    /// <c>getquote.completed</c>, <c>getquote.failed</c>.
    /// </summary>
    public IReadOnlyDictionary<string, long> Snapshot()
    {
        var result = new SortedDictionary<string, long>(StringComparer.Ordinal);
        for (int row = 0; row < RowNames.Length; row++)
        {
            for (int col = 0; col < Columns; col++)
            {
                AddIfNonZero(result, $"tdvmcall.{RowNames[row]}.{OutcomeNames[col]}", Sum((row * Columns) + col));
            }
        }

        AddIfNonZero(result, "mapgpa.bytes_to_shared", Sum(BytesToSharedSlot));
        AddIfNonZero(result, "mapgpa.bytes_to_private", Sum(BytesToPrivateSlot));
        AddIfNonZero(result, "getquote.completed", Interlocked.Read(ref _quotesCompleted));
        AddIfNonZero(result, "getquote.failed", Interlocked.Read(ref _quotesFailed));
        return result;
    }

    private long Sum(int slot)
    {
        long total = 0;
        foreach (long[] counts in _perVcpu)
        {
            total += Volatile.Read(ref counts[slot]);
        }

        return total;
    }

    private static void AddIfNonZero(SortedDictionary<string, long> into, string key, long value)
    {
        if (value != 0)
        {
            into[key] = value;
        }
    }

    /// <summary>Index in <see cref="Rows"/> of a standard sub-function (a switch: no search per call).</summary>
    private static int RowOf(ulong subfunction) => subfunction switch
    {
        (ulong)TdVmcallSubfunction.InstructionCpuid => 0,
        (ulong)TdVmcallSubfunction.InstructionHlt => 1,
        (ulong)TdVmcallSubfunction.InstructionIo => 2,
        (ulong)TdVmcallSubfunction.InstructionRdmsr => 3,
        (ulong)TdVmcallSubfunction.InstructionWrmsr => 4,
        (ulong)TdVmcallSubfunction.VeRequestMmio => 5,
        (ulong)TdVmcallSubfunction.InstructionWbinvd => 6,
        (ulong)TdVmcallSubfunction.InstructionPconfig => 7,
        (ulong)TdVmcallSubfunction.GetTdVmCallInfo => 8,
        (ulong)TdVmcallSubfunction.MapGpa => 9,
        (ulong)TdVmcallSubfunction.GetQuote => 10,
        (ulong)TdVmcallSubfunction.ReportFatalError => 11,
        (ulong)TdVmcallSubfunction.SetupEventNotifyInterrupt => 12,
        (ulong)TdVmcallSubfunction.Service => 13,
        _ => OtherRow,
    };

    private static int ColumnOf(ulong status) => status switch
    {
        TdVmcall.Success => 0,
        TdVmcall.Retry => 1,
        TdVmcall.InvalidOperand => 2,
        TdVmcall.GpaInUse => 3,
        TdVmcall.AlignError => 4,
        TdVmcall.SubfuncUnsupported => 5,
        VmmCore.KvmEnosys => EnosysColumn,
        _ => 7,
    };
}
