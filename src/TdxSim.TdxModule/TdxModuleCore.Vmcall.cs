using TdxSim.Abi;
using TdxSim.Abi.Messages;

namespace TdxSim.TdxModule;

// TDG.VP.VMCALL (leaf 0, reference 2.1; [MOD] tdg_vp_vmcall.c).
public sealed partial class TdxModuleCore
{
    /// <summary>
    /// Completes a TDG.VP.VMCALL with the VMM's answer: the guest gets back exactly the registers it selected
    /// (from the VMM's values) and RAX = TDX_SUCCESS. The VMM is untrusted: a reply for a vCPU that has no
    /// VMCALL in flight (or for no such vCPU) is refused and counted, and the GPR_SELECT the VMM echoes is ignored.
    /// </summary>
    /// <returns>The completion for the vCPU, or null when the reply is refused.</returns>
    public TdcallCompleted? CompleteVmcall(TdVmcallCompleted reply)
    {
        ArgumentNullException.ThrowIfNull(reply);
        if ((uint)reply.Vcpu >= (uint)_vcpus.Length)
        {
            Counters.CountVmcallReplyRejected();
            return null;
        }

        VcpuContext ctx = _vcpus[reply.Vcpu];
        int select = Interlocked.Exchange(ref ctx.PendingSelect, VcpuContext.NoPendingVmcall);
        if (select == VcpuContext.NoPendingVmcall)
        {
            Counters.CountVmcallReplyRejected();
            return null;
        }

        if (reply.GprSelect != select)
        {
            Counters.CountVmcallSelectMismatch();
        }

        // TDH.VP.ENTER after a TDVMCALL exit copies the selected GPRs from the VMM and sets RAX to TDX_SUCCESS.
        Gprs regs = reply.Regs.Masked((ushort)select);
        regs[Gpr.Rax] = TdxStatus.Success;
        Counters.CountVmcallCompleted(ctx.Index);
        return Done(ctx, (ushort)TdcallLeaf.VpVmcall, (ushort)select, regs).Completion;
    }

    /// <summary>
    /// RCX = GPR_SELECT (15:0) | XMM_SELECT (31:16); bits 63:32 reserved. RAX, RCX, RSP (and RBP under
    /// CONFIG_FLAGS.NO_RBP_MOD) may not be selected. A bad RCX fails with OPERAND_INVALID(RCX) and no TD exit.
    /// XMM_SELECT must be 0 here: XMM state is not modelled (and KVM does not support XMM values either).
    /// </summary>
    private TdcallOutcome VpVmcall(VcpuContext ctx, in Gprs regs)
    {
        ulong rcx = regs[Gpr.Rcx];
        ushort select = (ushort)rcx;
        ushort forbidden = (ushort)(ForbiddenAlways | ((Options.ConfigFlags & TdConfigFlags.NoRbpMod) != 0 ? GprMask.Rbp : 0));
        if ((select & forbidden) != 0 || (rcx >> 16) != 0)
        {
            return Fail(ctx, (ushort)TdcallLeaf.VpVmcall, TdxStatus.WithOperand(TdxStatus.OperandInvalid, Gpr.Rcx));
        }

        // The VMM sees only the selected registers; everything else is zero in its view.
        Gprs view = regs.Masked(select);
        Volatile.Write(ref ctx.PendingSelect, select);
        Counters.CountVmcallForwarded(ctx.Index);
        return TdcallOutcome.Forward(new TdVmcallRequested(ctx.Index, select, view));
    }
}
