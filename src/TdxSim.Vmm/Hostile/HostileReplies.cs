using System.Globalization;
using TdxSim.Abi;
using TdxSim.Abi.Faults;
using TdxSim.Abi.Messages;

namespace TdxSim.Vmm.Hostile;

/// <summary>
/// How a hostile VMM bends its replies (contract section 10): which faults fit a request, and the corrupted reply.
/// The VMM may only write the registers the guest selected (the TDX module copies back nothing else), so every
/// corruption stays inside the GPR_SELECT mask, as a real host's would.
/// </summary>
public static class HostileReplies
{
    private static readonly ulong[] ErrorStatuses =
        [TdVmcall.InvalidOperand, TdVmcall.GpaInUse, TdVmcall.AlignError, TdVmcall.SubfuncUnsupported];

    /// <summary>The fault kinds that make sense for <paramref name="request"/>.</summary>
    public static HostFaultSet Eligible(TdVmcallRequested request)
    {
        ArgumentNullException.ThrowIfNull(request);
        const HostFaultSet anyReply = HostFaultSet.ErrorStatus | HostFaultSet.Garbage | HostFaultSet.Delay | HostFaultSet.NoReply;
        if (!request.IsStandard)
        {
            return anyReply;
        }

        Gprs r = request.Regs;
        return (TdVmcallSubfunction)request.Subfunction switch
        {
            // HLT's reply is the wake-up; ReportFatalError is never answered: neither has a reply to bend.
            TdVmcallSubfunction.InstructionHlt or TdVmcallSubfunction.ReportFatalError => HostFaultSet.None,
            TdVmcallSubfunction.InstructionIo when r[Gpr.R13] == TdVmcall.IoDirectionIn && r[Gpr.R12] is 1 or 2 or 4
                => anyReply | HostFaultSet.WrongWidth,
            TdVmcallSubfunction.VeRequestMmio when r[Gpr.R13] == TdVmcall.MmioRead && r[Gpr.R12] is 1 or 2 or 4
                => anyReply | HostFaultSet.WrongWidth,
            TdVmcallSubfunction.InstructionCpuid => anyReply | HostFaultSet.WrongWidth,
            TdVmcallSubfunction.MapGpa when GuestPhysical.IsShared(r[Gpr.R12])
                => anyReply | HostFaultSet.EndlessRetry | HostFaultSet.SpuriousVe,
            TdVmcallSubfunction.MapGpa => anyReply | HostFaultSet.EndlessRetry,
            _ => anyReply,
        };
    }

    /// <summary>The request by name: <c>TDG.VP.VMCALL&lt;Instruction.IO&gt;</c>.</summary>
    public static string RequestName(TdVmcallRequested request)
    {
        ArgumentNullException.ThrowIfNull(request);
        return request.IsStandard
            ? $"TDG.VP.VMCALL<{TdVmcall.SubfunctionName(request.Subfunction)}>"
            : "TDG.VP.VMCALL<KVM hypercall>";
    }

    /// <summary>MapGPA's endless retry: RETRY with R11 = the start GPA, no progress, nothing converted.</summary>
    public static TdVmcallCompleted EndlessRetry(TdVmcallRequested request)
    {
        ArgumentNullException.ThrowIfNull(request);
        Gprs regs = request.Regs;
        regs[Gpr.R11] = request.Regs[Gpr.R12];
        regs[Gpr.R10] = TdVmcall.Retry;
        return new TdVmcallCompleted(request.Vcpu, request.Subfunction, request.GprSelect, regs)
        {
            InjectedFault = HostFaultNames.Name(HostFaultSet.EndlessRetry),
        };
    }

    /// <summary>
    /// Corrupts an honest <paramref name="reply"/> with <paramref name="kind"/> (error status, garbage or wrong
    /// width); <paramref name="detail"/> says what was done.
    /// </summary>
    public static TdVmcallCompleted Corrupt(HostFaultSet kind, TdVmcallRequested request, TdVmcallCompleted reply, ulong random, out string detail)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(reply);
        Gprs regs = reply.Regs;
        switch (kind)
        {
            case HostFaultSet.ErrorStatus:
            {
                // Mostly the statuses a real host returns; now and then any value with the error bit.
                ulong status = (random & 7) < 4 ? ErrorStatuses[random & 3] : (random | (1UL << 63));
                regs[Gpr.R10] = status;
                detail = string.Create(CultureInfo.InvariantCulture, $"R10 = 0x{status:x}");
                break;
            }

            case HostFaultSet.Garbage:
            {
                ulong x = random;
                var written = new System.Text.StringBuilder();
                for (int i = 0; i < Gprs.Count; i++)
                {
                    if ((request.GprSelect & (1 << i)) == 0 || i == (int)Gpr.R10)
                    {
                        continue;
                    }

                    x = Mix(x + (ulong)i);
                    regs[(Gpr)i] = x;
                    written.Append(written.Length == 0 ? string.Empty : ", ").Append(CultureInfo.InvariantCulture, $"{(Gpr)i} = 0x{x:x}");
                }

                detail = written.Length == 0 ? "no register selected" : written.ToString();
                break;
            }

            case HostFaultSet.WrongWidth:
            {
                if ((TdVmcallSubfunction)request.Subfunction == TdVmcallSubfunction.InstructionCpuid)
                {
                    // CPUID results are 32 bits; set bits 63:32 of each.
                    for (int i = (int)Gpr.R12; i <= (int)Gpr.R15; i++)
                    {
                        regs[(Gpr)i] |= Mix(random + (ulong)i) << 32;
                    }

                    detail = "R12..R15 with bits 63:32 set";
                }
                else
                {
                    int size = (int)request.Regs[Gpr.R12];
                    ulong high = (Mix(random) | 1) << (size * 8);
                    regs[Gpr.R11] |= high;
                    detail = string.Create(CultureInfo.InvariantCulture, $"a {size}-byte read returned R11 = 0x{regs[Gpr.R11]:x}");
                }

                break;
            }

            default:
                throw new ArgumentOutOfRangeException(nameof(kind), kind, "not a reply corruption");
        }

        return reply with { Regs = regs, InjectedFault = HostFaultNames.Name(kind) };
    }

    /// <summary>The delay of a delayed reply: 0.05 to 1 ms (below the reply timeout of any hostile run).</summary>
    public static TimeSpan Delay(ulong random) => TimeSpan.FromMicroseconds(50 + (double)(random % 951));

    private static ulong Mix(ulong z)
    {
        z += 0x9E37_79B9_7F4A_7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58_476D_1CE4_E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D0_49BB_1331_11EBUL;
        return z ^ (z >> 31);
    }
}
