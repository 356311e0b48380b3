using TdxSim.Abi.Messages;

namespace TdxSim.Vmm;

/// <summary>What happens to the vCPU after the VMM handled its TDVMCALL.</summary>
public enum VmcallDisposition
{
    /// <summary>Answered now: <see cref="VmcallOutcome.Reply"/> goes back to the TDX module.</summary>
    Completed,

    /// <summary>Instruction.HLT: the vCPU is blocked; <see cref="VmmCore.Wake"/> produces the reply later.</summary>
    Halted,

    /// <summary>ReportFatalError without resume: no reply ever (Linux never expects one); the machine stops the TD.</summary>
    NoReply,
}

/// <summary>The result of <see cref="VmmCore.Handle"/>.</summary>
/// <param name="Disposition">Whether and when the vCPU gets its reply.</param>
/// <param name="Reply">The reply for <see cref="VmcallDisposition.Completed"/>, else null.</param>
/// <param name="Events">Messages for the machine, in order (stop requests, reports, POST codes, halts).</param>
/// <param name="PendingQuote">A GetQuote accepted now whose quote <see cref="VmmCore.CompleteQuote"/> must write later, else null.</param>
public readonly record struct VmcallOutcome(
    VmcallDisposition Disposition,
    TdVmcallCompleted? Reply,
    IReadOnlyList<ITdxMessage> Events,
    QuoteRequest? PendingQuote);

/// <summary>A GetQuote the VMM accepted; its buffer status is IN_FLIGHT until <see cref="VmmCore.CompleteQuote"/>.</summary>
/// <param name="Vcpu">The requesting vCPU.</param>
/// <param name="BufferGpa">The buffer's GPA as the guest gave it (shared bit set).</param>
/// <param name="Size">The buffer size in bytes.</param>
public sealed record QuoteRequest(int Vcpu, ulong BufferGpa, ulong Size);
