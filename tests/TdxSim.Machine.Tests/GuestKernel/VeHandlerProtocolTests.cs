using TdxSim.Abi;
using TdxSim.Cpu;
using TdxSim.Guest.Kernel;

namespace TdxSim.Machine.Tests.GuestKernel;

/// <summary>The #VE handler's protocol: VEINFO.GET first, one VMCALL, RIP advanced once; its failure paths.</summary>
public sealed class VeHandlerProtocolTests
{
    private static VeInfo Hlt => new(VeExitReason.Hlt, 0, 0, 0, 1, 0);

    [Fact]
    public void Begin_IssuesTdgVpVeinfoGetWithOnlyRaxSet_AndTheHandlerBecomesActive()
    {
        using var bench = new KernelBench();
        Assert.False(bench.Handler.IsActive);

        KernelStep step = bench.Handler.Begin();

        Assert.Equal(KernelStepKind.Tdcall, step.Kind);
        Assert.Equal((ulong)TdcallLeaf.VpVeinfoGet, step.Regs[Gpr.Rax]);
        Assert.True(bench.Handler.IsActive);
    }

    [Fact]
    public void Begin_WhileAVeIsBeingHandled_IsAnEmulatorBug()
    {
        using var bench = new KernelBench();
        bench.Handler.Begin();

        Assert.Throws<InvalidOperationException>(() => bench.Handler.Begin());
    }

    [Fact]
    public void Completion_WithNoVeBeingHandled_IsAnEmulatorBug()
    {
        using var bench = new KernelBench();

        Assert.Throws<InvalidOperationException>(() => bench.CompleteVmcall());
    }

    [Fact]
    public void VeinfoGetFailure_IsFatalWithTheStatusName_AndRipStays()
    {
        using var bench = new KernelBench();
        bench.Handler.Begin();

        KernelStep step = bench.CompleteLeaf(TdcallLeaf.VpVeinfoGet, TdxStatus.NoValidVeInfo);

        bench.AssertFatal(step, "TDG.VP.VEINFO.GET failed: TDX_NO_VALID_VE_INFO", KernelBench.CodeGpa);
    }

    [Fact]
    public void VmcallWithTdcallStatusNotZero_IsFatalLikeLinuxsPanic_AndRipStays()
    {
        using var bench = new KernelBench();
        bench.Cpu.Rflags &= ~Rflags.If;
        bench.Deliver(Hlt);

        KernelStep step = bench.CompleteVmcall(rax: TdxStatus.WithOperand(TdxStatus.OperandInvalid, Gpr.Rcx));

        bench.AssertFatal(step, "TDVMCALL failed. TDX module bug? (TDX_OPERAND_INVALID(RCX))", KernelBench.CodeGpa);
    }

    [Fact]
    public void AfterAResume_TheHandlerCanTakeTheNextVe()
    {
        using var bench = new KernelBench();
        bench.Deliver(Hlt);
        bench.AssertResumed(bench.CompleteVmcall(), KernelBench.CodeGpa, 1);

        KernelStep again = bench.Deliver(Hlt);

        bench.AssertVmcall(again, TdVmcallSubfunction.InstructionHlt, r12: 1);
    }

    [Fact]
    public void Reset_AbandonsTheVeInFlight()
    {
        using var bench = new KernelBench();
        bench.Deliver(Hlt);

        bench.Handler.Reset();

        Assert.False(bench.Handler.IsActive);
        Assert.Equal(KernelStepKind.Tdcall, bench.Handler.Begin().Kind);
    }

    [Theory]
    [InlineData(VeExitReason.Invd)]
    [InlineData(VeExitReason.Vmcall)]
    [InlineData(VeExitReason.MwaitInstruction)]
    [InlineData(VeExitReason.MonitorInstruction)]
    [InlineData(VeExitReason.EptMisconfig)]
    [InlineData(VeExitReason.Wbinvd)]
    [InlineData(VeExitReason.ApicWrite)]
    [InlineData(VeExitReason.Pconfig)]
    public void ExitReasonLinuxDoesNotHandle_IsFatalUnexpectedVe_WithoutAnyVmcall(VeExitReason reason)
    {
        using var bench = new KernelBench();

        KernelStep step = bench.Deliver(new VeInfo(reason, 0, 0, 0, 3, 0));

        bench.AssertFatal(step, $"Unexpected #VE: {VeExitReasonInfo.Name((uint)reason)} ({(uint)reason})", KernelBench.CodeGpa);
    }

    [Fact]
    public void SelectMaskOption_IsTheRcxOfEveryVmcall()
    {
        using var bench = new KernelBench(new GuestKernelOptions { VmcallSelectMask = 0xFC00 });

        KernelStep step = bench.Deliver(Hlt);

        bench.AssertVmcall(step, TdVmcallSubfunction.InstructionHlt, r12: 1);
        Assert.Equal(0xFC00UL, step.Regs[Gpr.Rcx]);
    }

    [Fact]
    public void DefaultSelectMask_IsLinuxs0xFfcc()
    {
        Assert.Equal(0xFFCC, GuestKernelOptions.Default.VmcallSelectMask);
    }

    [Fact]
    public void ASecondVe_ReplacesTheFirstsVeInfoEntirely()
    {
        using var bench = new KernelBench();
        bench.Deliver(new VeInfo(VeExitReason.Hlt, 0x11, 0x22, 0x33, 1, 0x44));
        bench.CompleteVmcall();

        bench.Deliver(new VeInfo(VeExitReason.MsrRead, 0, 0, 0, 2, 0));

        Assert.Equal(new VeInfo(VeExitReason.MsrRead, 0, 0, 0, 2, 0), bench.Handler.CurrentVe);
    }
}
