using System.Text;
using TdxSim.Abi;
using TdxSim.Abi.Messages;

namespace TdxSim.Vmm;

// GHCI sub-functions about the platform rather than an instruction, and the KVM hypercall path.
public sealed partial class VmmCore
{
    /// <summary>GetTdVmCallInfo leaf 1, R11: optional TDVMCALLs supported (bit 1 = SetupEventNotifyInterrupt; bit 0,
    /// formerly GetQuote, is no longer used since GetQuote is part of the base set).</summary>
    public const ulong OptionalTdVmcallBitmap = 1UL << 1;

    /// <summary>Registers ReportFatalError's 64-byte message comes in, in order (GHCI; reference 2.2).</summary>
    private static readonly Gpr[] FatalMessageRegisters = [Gpr.R14, Gpr.R15, Gpr.Rbx, Gpr.Rdi, Gpr.Rsi, Gpr.R8, Gpr.R9, Gpr.Rdx];

    /// <summary>
    /// GHCI TDG.VP.VMCALL&lt;GetTdVmCallInfo&gt; (0x10000), R12 = leaf: leaf 0 → SUCCESS with R11..R14 = 0; leaf 1 →
    /// R11 = <see cref="OptionalTdVmcallBitmap"/>, R12..R14 = 0; any other leaf → INVALID_OPERAND (KVM).
    /// </summary>
    private VmcallOutcome GetTdVmCallInfo(ref Call call)
    {
        ulong leaf = call.Regs[Gpr.R12];
        if (leaf > 1)
        {
            return Done(ref call, TdVmcall.InvalidOperand);
        }

        call.Regs[Gpr.R11] = leaf == 1 ? OptionalTdVmcallBitmap : 0;
        call.Regs[Gpr.R12] = 0;
        call.Regs[Gpr.R13] = 0;
        call.Regs[Gpr.R14] = 0;
        return Done(ref call, TdVmcall.Success);
    }

    /// <summary>
    /// GHCI TDG.VP.VMCALL&lt;ReportFatalError&gt; (0x10003): R12 = error code (bit 63: R13 holds the GPA of more data),
    /// an optional 64-byte ASCII message in R14, R15, RBX, RDI, RSI, R8, R9, RDX (up to the first NUL). The machine
    /// gets a <see cref="GuestStopRequested"/> of kind <see cref="GuestStopKind.ReportedFatalError"/>. No reply unless
    /// <see cref="VmmOptions.ResumeAfterReportFatalError"/>.
    /// </summary>
    private VmcallOutcome ReportFatalError(ref Call call)
    {
        ulong code = call.Regs[Gpr.R12];
        string message = DecodeFatalMessage(in call.Regs);
        var detail = new StringBuilder($"ReportFatalError code 0x{code:X16}");
        if (message.Length > 0)
        {
            detail.Append($": \"{message}\"");
        }

        if ((code & (1UL << 63)) != 0)
        {
            detail.Append($" (data at GPA 0x{call.Regs[Gpr.R13]:X})");
        }

        ITdxMessage[] events = [new GuestStopRequested(call.Vcpu, GuestStopKind.ReportedFatalError, code, detail.ToString())];
        if (Options.ResumeAfterReportFatalError)
        {
            return Done(ref call, TdVmcall.Success, events);
        }

        Counters.NoReply(call.Vcpu, call.Subfunction);
        return new VmcallOutcome(VmcallDisposition.NoReply, null, events, null);
    }

    /// <summary>The ReportFatalError message: little-endian bytes of the message registers, up to the first NUL;
    /// anything not printable ASCII shows as '?'.</summary>
    public static string DecodeFatalMessage(in Gprs regs)
    {
        var text = new StringBuilder(64);
        foreach (Gpr r in FatalMessageRegisters)
        {
            ulong v = regs[r];
            for (int i = 0; i < 8; i++)
            {
                byte b = (byte)(v >> (8 * i));
                if (b == 0)
                {
                    return text.ToString();
                }

                text.Append(b is >= 0x20 and < 0x7F ? (char)b : '?');
            }
        }

        return text.ToString();
    }

    /// <summary>GHCI TDG.VP.VMCALL&lt;SetupEventNotifyInterrupt&gt; (0x10004): R12 = vector, 32..255 else
    /// INVALID_OPERAND; remembered per vCPU for GetQuote completion (<see cref="QuoteCompleted.NotifyVector"/>).</summary>
    private VmcallOutcome SetupEventNotifyInterrupt(ref Call call)
    {
        ulong vector = call.Regs[Gpr.R12];
        if (vector is < 32 or > 255)
        {
            return Done(ref call, TdVmcall.InvalidOperand);
        }

        Volatile.Write(ref _notifyVector[call.Vcpu], (int)vector);
        return Done(ref call, TdVmcall.Success);
    }

    /// <summary>R10 ≠ 0: a vendor-specific call, for KVM a hypercall numbered R10. None is implemented: R10 = -KVM_ENOSYS,
    /// nothing else changes (KVM's answer to an unknown hypercall).</summary>
    private VmcallOutcome KvmHypercall(ref Call call)
    {
        call.Regs[Gpr.R10] = KvmEnosys;
        Counters.Hypercall(call.Vcpu);
        return new VmcallOutcome(VmcallDisposition.Completed, Reply(ref call), NoEvents, null);
    }
}
