using TdxSim.Abi;

namespace TdxSim.TdxModule;

// TDG.VP.INFO (leaf 1) and TDG.VP.VEINFO.GET (leaf 3): reference 1.3; [MOD] tdg_vp_info.c, tdg_vp_veinfo_get.c.
public sealed partial class TdxModuleCore
{
    private const ushort VpInfoOutputs = GprMask.Rcx | GprMask.Rdx | GprMask.R8 | GprMask.R9 | GprMask.R10 | GprMask.R11;
    private const ushort VeinfoOutputs = GprMask.Rcx | GprMask.Rdx | GprMask.R8 | GprMask.R9 | GprMask.R10;

    /// <summary>
    /// RCX = GPAW (48; RCX[63:6] = 0), RDX = ATTRIBUTES, R8 = NUM_VCPUS | MAX_VCPUS &lt;&lt; 32, R9 = vCPU index,
    /// R10 bit 0 = TDG.SYS.RD available, R11 = 0.
    /// </summary>
    private TdcallOutcome VpInfo(VcpuContext ctx)
    {
        Gprs regs = default;
        regs[Gpr.Rcx] = GuestPhysical.Gpaw;
        regs[Gpr.Rdx] = Options.Attributes;
        regs[Gpr.R8] = (uint)Options.NumVcpus | ((ulong)(uint)Options.ResolvedMaxVcpus << 32);
        regs[Gpr.R9] = (ulong)ctx.Index;
        regs[Gpr.R10] = Options.SysRdAvailable ? 1UL : 0;
        regs[Gpr.R11] = 0;
        regs[Gpr.Rax] = TdxStatus.Success;
        return Done(ctx, (ushort)TdcallLeaf.VpInfo, VpInfoOutputs, regs);
    }

    /// <summary>
    /// Version 0 or 1. Outputs are zeroed first (also on failure): RCX[31:0] = exit reason, RDX = exit qualification,
    /// R8 = GLA, R9 = GPA, R10 = instruction length | instruction information &lt;&lt; 32. No valid VE info →
    /// TDX_NO_VALID_VE_INFO. Success clears the valid flag. Version 1 would add the #VE category in RCX[63:32];
    /// categories are not modelled, so it reads 0.
    /// </summary>
    private TdcallOutcome VpVeinfoGet(VcpuContext ctx, byte version)
    {
        Gprs regs = default;
        if (version > 1)
        {
            regs[Gpr.Rax] = TdxStatus.WithOperand(TdxStatus.OperandInvalid, Gpr.Rax);
        }
        else if (!ctx.VeValid)
        {
            regs[Gpr.Rax] = TdxStatus.NoValidVeInfo;
        }
        else
        {
            VeInfo ve = ctx.VeInfo;
            regs[Gpr.Rcx] = (uint)ve.ExitReason;
            regs[Gpr.Rdx] = ve.ExitQualification;
            regs[Gpr.R8] = ve.Gla;
            regs[Gpr.R9] = ve.Gpa;
            regs[Gpr.R10] = ve.InstructionLength | ((ulong)ve.InstructionInfo << 32);
            ctx.VeValid = false;
            regs[Gpr.Rax] = TdxStatus.Success;
        }

        return Done(ctx, (ushort)TdcallLeaf.VpVeinfoGet, VeinfoOutputs, regs);
    }
}
