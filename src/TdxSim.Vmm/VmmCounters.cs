using TdxSim.Abi;

namespace TdxSim.Vmm;

/// <summary>
/// TDVMCALL counts per sub-function and outcome, plus memory and quote totals, for the final-state dump.
/// Lock-free: every count is an interlocked increment, so concurrent vCPUs never contend on a lock here.
/// </summary>
public sealed class VmmCounters
{
    /// <summary>Outcome column names: the TDVMCALL statuses, KVM's -ENOSYS, and the two no-reply-now outcomes.</summary>
    private static readonly string[] OutcomeNames =
        ["SUCCESS", "RETRY", "INVALID_OPERAND", "GPA_INUSE", "ALIGN_ERROR", "SUBFUNC_UNSUPPORTED", "ENOSYS", "OTHER", "halted", "no_reply"];

    private static readonly ulong[] KnownSubfunctions = [.. Enum.GetValues<TdVmcallSubfunction>().Select(s => (ulong)s)];

    private const int HaltedColumn = 8;
    private const int NoReplyColumn = 9;
    private static readonly int OtherRow = KnownSubfunctions.Length;
    private static readonly int HypercallRow = KnownSubfunctions.Length + 1;

    private readonly long[] _calls = new long[(KnownSubfunctions.Length + 2) * OutcomeNames.Length];
    private long _bytesToShared;
    private long _bytesToPrivate;
    private long _quotesCompleted;
    private long _quotesFailed;

    /// <summary>A completed standard TDVMCALL.</summary>
    internal void Completed(ulong subfunction, ulong status) => Increment(RowOf(subfunction), ColumnOf(status));

    /// <summary>A KVM hypercall (R10 ≠ 0).</summary>
    internal void Hypercall() => Increment(HypercallRow, 6);

    /// <summary>An Instruction.HLT that blocked the vCPU.</summary>
    internal void Halted() => Increment(RowOf((ulong)TdVmcallSubfunction.InstructionHlt), HaltedColumn);

    /// <summary>A ReportFatalError left without a reply.</summary>
    internal void NoReply(ulong subfunction) => Increment(RowOf(subfunction), NoReplyColumn);

    internal void Converted(bool toShared, ulong bytes) =>
        Interlocked.Add(ref toShared ? ref _bytesToShared : ref _bytesToPrivate, (long)bytes);

    internal void QuoteFinished(bool success) => Interlocked.Increment(ref success ? ref _quotesCompleted : ref _quotesFailed);

    /// <summary>Calls of <paramref name="subfunction"/> that ended with TDVMCALL status <paramref name="status"/>.</summary>
    public long Count(TdVmcallSubfunction subfunction, ulong status) =>
        Interlocked.Read(ref _calls[(RowOf((ulong)subfunction) * OutcomeNames.Length) + ColumnOf(status)]);

    /// <summary>
    /// Every non-zero counter: <c>tdvmcall.&lt;GHCI name&gt;.&lt;status&gt;</c> (e.g. <c>tdvmcall.Instruction.IO.SUCCESS</c>,
    /// <c>tdvmcall.Instruction.HLT.halted</c>, <c>tdvmcall.kvm_hypercall.ENOSYS</c>, <c>tdvmcall.other.SUBFUNC_UNSUPPORTED</c>),
    /// <c>mapgpa.bytes_to_shared</c>, <c>mapgpa.bytes_to_private</c>, <c>getquote.completed</c>, <c>getquote.failed</c>.
    /// </summary>
    public IReadOnlyDictionary<string, long> Snapshot()
    {
        var result = new SortedDictionary<string, long>(StringComparer.Ordinal);
        for (int row = 0; row <= HypercallRow; row++)
        {
            string name = row == HypercallRow ? "kvm_hypercall" : row == OtherRow ? "other" : TdVmcall.SubfunctionName(KnownSubfunctions[row]);
            for (int col = 0; col < OutcomeNames.Length; col++)
            {
                long n = Interlocked.Read(ref _calls[(row * OutcomeNames.Length) + col]);
                if (n != 0)
                {
                    result[$"tdvmcall.{name}.{OutcomeNames[col]}"] = n;
                }
            }
        }

        AddIfNonZero(result, "mapgpa.bytes_to_shared", ref _bytesToShared);
        AddIfNonZero(result, "mapgpa.bytes_to_private", ref _bytesToPrivate);
        AddIfNonZero(result, "getquote.completed", ref _quotesCompleted);
        AddIfNonZero(result, "getquote.failed", ref _quotesFailed);
        return result;
    }

    private static void AddIfNonZero(SortedDictionary<string, long> into, string key, ref long value)
    {
        long n = Interlocked.Read(ref value);
        if (n != 0)
        {
            into[key] = n;
        }
    }

    private void Increment(int row, int column) => Interlocked.Increment(ref _calls[(row * OutcomeNames.Length) + column]);

    private static int RowOf(ulong subfunction)
    {
        int i = Array.IndexOf(KnownSubfunctions, subfunction);
        return i >= 0 ? i : OtherRow;
    }

    private static int ColumnOf(ulong status) => status switch
    {
        TdVmcall.Success => 0,
        TdVmcall.Retry => 1,
        TdVmcall.InvalidOperand => 2,
        TdVmcall.GpaInUse => 3,
        TdVmcall.AlignError => 4,
        TdVmcall.SubfuncUnsupported => 5,
        VmmCore.KvmEnosys => 6,
        _ => 7,
    };
}
