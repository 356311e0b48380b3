using TdxSim.Abi;
using TdxSim.Abi.Messages;
using TdxSim.TdxModule.Tests.Support;

namespace TdxSim.TdxModule.Tests;

/// <summary>TDG.VP.VMCALL: GPR_SELECT rules, masking in the VMM's view, copy-back (reference 2.1).</summary>
public sealed class VmcallTests
{
    private const ulong OperandInvalidRcx = 0xC000_0100_0000_0001;

    [Theory]
    [InlineData(0x0001UL)]                 // RAX
    [InlineData(0x0002UL)]                 // RCX
    [InlineData(0x0010UL)]                 // RSP
    [InlineData(0x0020UL)]                 // RBP under NO_RBP_MOD
    [InlineData(0xFFFFUL)]                 // everything
    [InlineData(0xFFCCUL | 0x1UL)]         // Linux mask plus RAX
    [InlineData(0xFFCCUL | (1UL << 16))]   // XMM_SELECT bit 16 (XMM state not modelled)
    [InlineData(0xFFCCUL | (1UL << 31))]   // XMM_SELECT bit 31
    [InlineData(0xFFCCUL | (1UL << 32))]   // reserved bit 32
    [InlineData(0xFFCCUL | (1UL << 63))]   // reserved bit 63
    public void BadSelect_IsOperandInvalidRcx_WithoutExit(ulong rcx)
    {
        var h = new ModuleHarness();
        TdcallCompleted c = h.Call(0, 0, rcx: rcx);
        Assert.Equal(OperandInvalidRcx, c.CompletionStatus);
        Assert.Equal(GprMask.Rax, c.WrittenRegisters);
        Assert.False(h.Core.HasVmcallInFlight(0));
        Assert.Equal(0, h.Core.Counters.VmcallsForwarded);
    }

    [Fact]
    public void RbpSelect_IsAllowedWithoutNoRbpMod()
    {
        var h = new ModuleHarness(new TdxModuleOptions { NumVcpus = 1, ConfigFlags = 0 });
        TdcallOutcome outcome = h.Outcome(0, 0, rcx: GprMask.Rbp | GprMask.R11);
        Assert.Equal(TdcallOutcomeKind.ForwardToVmm, outcome.Kind);
        Assert.Equal(GprMask.Rbp | GprMask.R11, outcome.VmcallRequest!.GprSelect);
    }

    [Theory]
    [InlineData(TdVmcall.LinuxSelectMask)]
    [InlineData((ushort)0xFC00)]           // the v5.19 to 6.5 Linux mask
    [InlineData((ushort)0x0C00)]           // R10, R11 only
    [InlineData((ushort)0x0000)]           // nothing selected
    [InlineData((ushort)0x00C8)]           // RBX, RSI, RDI
    public void Vmm_SeesOnlySelectedRegisters(ushort select)
    {
        var h = new ModuleHarness();
        Gprs guest = ModuleHarness.Distinct();
        guest[Gpr.Rax] = 0;
        guest[Gpr.Rcx] = select;
        TdcallOutcome outcome = h.Tdcall(1, guest);
        Assert.Equal(TdcallOutcomeKind.ForwardToVmm, outcome.Kind);
        TdVmcallRequested request = outcome.VmcallRequest!;
        Assert.Equal(1, request.Vcpu);
        Assert.Equal(select, request.GprSelect);
        for (int i = 0; i < Gprs.Count; i++)
        {
            ulong expected = (select & (1 << i)) != 0 ? guest[i] : 0;
            Assert.Equal(expected, request.Regs[i]);
        }

        Assert.True(h.Core.HasVmcallInFlight(1));
        Assert.False(h.Core.HasVmcallInFlight(0));
    }

    [Theory]
    [InlineData(TdVmcall.LinuxSelectMask)]
    [InlineData((ushort)0x0C00)]
    [InlineData((ushort)0x0000)]
    [InlineData((ushort)0x8004)]           // RDX and R15
    public void Completion_CopiesBackOnlySelectedRegisters(ushort select)
    {
        var h = new ModuleHarness();
        Gprs guest = ModuleHarness.Regs((Gpr.Rcx, select), (Gpr.R10, 0), (Gpr.R11, (ulong)TdVmcallSubfunction.InstructionIo));
        h.Tdcall(0, guest);

        // A hostile VMM writes every register, RAX and RCX included.
        Gprs vmm = ModuleHarness.Distinct();
        TdcallCompleted c = h.Core.CompleteVmcall(new TdVmcallCompleted(0, 30, select, vmm))!;
        Assert.NotNull(c);
        Assert.Equal((ushort)(select | GprMask.Rax), c.WrittenRegisters);
        Assert.Equal(TdxStatus.Success, c.CompletionStatus);
        Assert.Equal((ushort)TdcallLeaf.VpVmcall, c.Leaf);
        for (int i = 1; i < Gprs.Count; i++)
        {
            ulong expected = (select & (1 << i)) != 0 ? vmm[i] : 0;
            Assert.Equal(expected, c.Regs[i]);
        }

        Assert.False(h.Core.HasVmcallInFlight(0));
        Assert.Equal(1, h.Core.Counters.VmcallsCompleted);
    }

    [Fact]
    public void Completion_IgnoresTheSelectMaskTheVmmEchoes()
    {
        var h = new ModuleHarness();
        h.Tdcall(0, ModuleHarness.Regs((Gpr.Rcx, GprMask.R11)));
        Gprs vmm = ModuleHarness.Distinct();
        TdcallCompleted c = h.Core.CompleteVmcall(new TdVmcallCompleted(0, 30, GprMask.All, vmm))!;
        Assert.Equal(GprMask.R11 | GprMask.Rax, c.WrittenRegisters);
        Assert.Equal(vmm[Gpr.R11], c.Regs[Gpr.R11]);
        Assert.Equal(0UL, c.Regs[Gpr.R12]);
        Assert.Equal(1, h.Core.Counters.VmcallSelectMismatches);
    }

    [Fact]
    public void ReplyForVcpuWithoutVmcall_IsRejected()
    {
        var h = new ModuleHarness();
        h.Tdcall(0, ModuleHarness.Regs((Gpr.Rcx, TdVmcall.LinuxSelectMask)));
        Assert.Null(h.Core.CompleteVmcall(new TdVmcallCompleted(1, 30, TdVmcall.LinuxSelectMask, ModuleHarness.Distinct())));
        Assert.Equal(1, h.Core.Counters.VmcallRepliesRejected);

        // vCPU 0's VMCALL is still in flight and completes normally.
        Assert.True(h.Core.HasVmcallInFlight(0));
        Assert.NotNull(h.Core.CompleteVmcall(new TdVmcallCompleted(0, 30, TdVmcall.LinuxSelectMask, default)));
    }

    [Theory]
    [InlineData(-1)]
    [InlineData(2)]
    [InlineData(int.MaxValue)]
    public void ReplyForNoSuchVcpu_IsRejected(int vcpu)
    {
        var h = new ModuleHarness();
        Assert.Null(h.Core.CompleteVmcall(new TdVmcallCompleted(vcpu, 30, 0, default)));
        Assert.Equal(1, h.Core.Counters.VmcallRepliesRejected);
    }

    [Fact]
    public void DuplicateReply_IsRejected()
    {
        var h = new ModuleHarness();
        h.Tdcall(0, ModuleHarness.Regs((Gpr.Rcx, GprMask.R11)));
        Assert.NotNull(h.Core.CompleteVmcall(new TdVmcallCompleted(0, 30, GprMask.R11, default)));
        Assert.Null(h.Core.CompleteVmcall(new TdVmcallCompleted(0, 30, GprMask.R11, default)));
        Assert.Equal(1, h.Core.Counters.VmcallRepliesRejected);

        // The vCPU can make its next TDCALL.
        Assert.Equal(TdxStatus.Success, h.Call(0, (ulong)TdcallLeaf.VpInfo).CompletionStatus);
    }

    [Fact]
    public void ConcurrentDuplicateReplies_CompleteExactlyOnce()
    {
        var h = new ModuleHarness(new TdxModuleOptions { NumVcpus = 1 });
        for (int round = 0; round < 200; round++)
        {
            h.Tdcall(0, ModuleHarness.Regs((Gpr.Rcx, GprMask.R11)));
            int completed = 0;
            Parallel.For(0, 4, _ =>
            {
                if (h.Core.CompleteVmcall(new TdVmcallCompleted(0, 30, GprMask.R11, default)) is not null)
                {
                    Interlocked.Increment(ref completed);
                }
            });
            Assert.Equal(1, completed);
        }

        Assert.Equal(200, h.Core.Counters.VmcallsCompleted);
        Assert.Equal(600, h.Core.Counters.VmcallRepliesRejected);
    }
}
