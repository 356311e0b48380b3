using TdxSim.Abi;

namespace TdxSim.Machine;

/// <summary>Exit statuses of contract section 2.</summary>
public static class ExitStatus
{
    /// <summary>Every vCPU halted with interrupts disabled, or the guest signalled success on port 0x30.</summary>
    public const int Success = 0;

    /// <summary>Usage, scenario or image error.</summary>
    public const int UsageError = 2;

    /// <summary>Guest fatal: unhandled #VE, failed TDVMCALL, ReportFatalError, #DF, triple fault, bad instruction.</summary>
    public const int GuestFatal = 4;

    /// <summary>Instruction or time limit reached.</summary>
    public const int LimitReached = 6;

    /// <summary>Internal emulator error.</summary>
    public const int InternalError = 8;

    /// <summary>Stopped by SIGINT (128 + 2, the shell's convention); the outputs are complete up to the stop.</summary>
    public const int Interrupted = 130;

    /// <summary>Stopped by SIGTERM (128 + 15); the outputs are complete up to the stop.</summary>
    public const int Terminated = 143;

    /// <summary>Status for a byte written to the debug-exit port: (v &lt;&lt; 1) | 1.</summary>
    public static int DebugExit(byte value) => (value << 1) | 1;
}

/// <summary>The final state of one vCPU (dump-state <c>vcpus</c> entry).</summary>
/// <param name="Index">vCPU index.</param>
/// <param name="State">What it was doing: halted, fatal, limit, running, waiting, not-started, lost.</param>
/// <param name="Instructions">Instructions retired.</param>
/// <param name="Rip">RIP.</param>
/// <param name="Rflags">RFLAGS.</param>
/// <param name="Regs">General-purpose registers.</param>
public sealed record VcpuFinalState(int Index, string State, ulong Instructions, ulong Rip, ulong Rflags, Gprs Regs);

/// <summary>How a run ended and what it left behind.</summary>
/// <param name="ExitStatus">Process exit status (contract section 2).</param>
/// <param name="Reason">Short reason: halted, debug-exit, selftest-success, fatal, limit, internal-error, ...</param>
/// <param name="Detail">One human-readable line (the diagnostic for fatal exits).</param>
/// <param name="Vcpus">Final state per vCPU, by index.</param>
/// <param name="Reports">Values reported on the selftest port 0x31, in order.</param>
/// <param name="Counters">Counters of every component, by name.</param>
/// <param name="Elapsed">Wall-clock duration of the run.</param>
/// <param name="VirtualNanoseconds">Clock reading at the end (virtual time in deterministic mode).</param>
/// <param name="Statistics">Per-vCPU statistics (latencies, #VE and TDCALL counts).</param>
public sealed record MachineResult(
    int ExitStatus,
    string Reason,
    string Detail,
    IReadOnlyList<VcpuFinalState> Vcpus,
    IReadOnlyList<ulong> Reports,
    IReadOnlyDictionary<string, long> Counters,
    TimeSpan Elapsed,
    long VirtualNanoseconds,
    IReadOnlyList<Guest.Diagnostics.VcpuStatistics> Statistics)
{
    /// <summary>ReportFatalError calls the host answered by resuming the guest (<c>on_fatal_error: resume</c>).</summary>
    public IReadOnlyList<string> ResumedFatalErrors { get; init; } = [];

    /// <summary>Where the run's time went, per actor and device, when <see cref="MachineIo.Contention"/> asked for it.</summary>
    public ContentionReport? Contention { get; init; }

    /// <summary>Every fault a hostile VMM injected (contract section 10), in order; empty for an honest one.</summary>
    public IReadOnlyList<Abi.Faults.InjectedFault> InjectedFaults { get; init; } = [];

    /// <summary>Messages the runtime could not hand to a handler during the run (normally none).</summary>
    public UndeliveredMessages Undelivered => UndeliveredMessages.From(Counters);

    /// <summary>Instructions retired by every vCPU.</summary>
    public ulong TotalInstructions
    {
        get
        {
            ulong total = 0;
            foreach (VcpuFinalState v in Vcpus)
            {
                total += v.Instructions;
            }

            return total;
        }
    }
}

/// <summary>
/// Messages of a run that no handler took: sent to a stopped actor (dead letters), refused by a full mailbox
/// (dropped), or delivered to an actor with no handler for them (unhandled). A clean run has none; any is reported
/// on stderr so no message is lost silently.
/// </summary>
/// <param name="DeadLetters">Messages whose recipient had stopped.</param>
/// <param name="Dropped">Messages a bounded mailbox refused.</param>
/// <param name="Unhandled">Messages no handler matched.</param>
public readonly record struct UndeliveredMessages(long DeadLetters, long Dropped, long Unhandled)
{
    /// <summary>All of them.</summary>
    public long Total => DeadLetters + Dropped + Unhandled;

    /// <summary>Reads the <c>runtime.*</c> counters of a run (absent counters count as zero).</summary>
    public static UndeliveredMessages From(IReadOnlyDictionary<string, long> counters)
    {
        ArgumentNullException.ThrowIfNull(counters);
        return new UndeliveredMessages(
            counters.GetValueOrDefault("runtime.dead_letters"),
            counters.GetValueOrDefault("runtime.dropped"),
            counters.GetValueOrDefault("runtime.unhandled"));
    }

    /// <summary>One line for stderr, e.g. "3 messages were not handled: 2 dead letters, 1 unhandled".</summary>
    public string Describe()
    {
        var parts = new List<string>(3);
        if (DeadLetters != 0)
        {
            parts.Add(Count(DeadLetters, "dead letter", "dead letters") + " (recipient stopped)");
        }

        if (Dropped != 0)
        {
            parts.Add(Count(Dropped, "dropped by a full mailbox", "dropped by full mailboxes"));
        }

        if (Unhandled != 0)
        {
            parts.Add(Count(Unhandled, "unhandled", "unhandled"));
        }

        return parts.Count == 0
            ? "every message was handled"
            : $"{Count(Total, "message was", "messages were")} not handled: {string.Join(", ", parts)}";
    }

    private static string Count(long n, string one, string many)
        => string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{n} {(n == 1 ? one : many)}");
}
