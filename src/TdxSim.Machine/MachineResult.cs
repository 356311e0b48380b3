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
