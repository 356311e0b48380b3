using TdxSim.Abi;
using TdxSim.Abi.Messages;
using TdxSim.Guest.Diagnostics;
using TdxSim.Guest.Kernel;
using static Iced.Intel.AssemblerRegisters;

namespace TdxSim.Machine.Tests.GuestKernel;

/// <summary>The kernel's TDG.MEM.PAGE.ACCEPT on a pending page's #VE when the module answers TDX_OPERAND_BUSY.</summary>
public sealed class VeHandlerAcceptBusyTests
{
    private const ulong Rip = KernelBench.CodeGpa;
    private static readonly ulong BusyRcx = TdxStatus.WithOperand(TdxStatus.OperandBusy, Gpr.Rcx);

    private static void AssertAccept(KernelStep step, ulong gpa)
    {
        Assert.Equal(KernelStepKind.Tdcall, step.Kind);
        Gprs expected = default;
        expected[Gpr.Rax] = (ulong)TdcallLeaf.MemPageAccept;
        expected[Gpr.Rcx] = gpa;
        Assert.Equal(expected, step.Regs);
    }

    [Fact]
    public void Busy_IsRetriedWithTheSameAccept_CountedInTheStatistics_ThenTheWarningResumes()
    {
        var stats = new VcpuStatistics();
        using var bench = new KernelBench(acceptAll: false);
        var handler = new VeHandler(bench.Memory, GuestKernelOptions.Default, stats);
        bench.Load(a => a.mov(rax, __qword_ptr[rdi]));
        handler.Begin();
        Gprs ve = default;
        ve[Gpr.Rcx] = (uint)VeExitReason.EptViolation;
        ve[Gpr.R9] = KernelBench.DataGpa + 8;
        KernelStep step = handler.OnTdcallCompleted(ref bench.Cpu, new TdcallCompleted(0, (ushort)TdcallLeaf.VpVeinfoGet, KernelBench.VeinfoWritten, ve));
        AssertAccept(step, KernelBench.DataGpa);

        for (int i = 0; i < 3; i++)
        {
            step = handler.OnTdcallCompleted(ref bench.Cpu, Status(BusyRcx));
            AssertAccept(step, KernelBench.DataGpa);
        }

        step = handler.OnTdcallCompleted(ref bench.Cpu, Status(TdxStatus.PageAlreadyAccepted));
        bench.AssertResumed(step, Rip, 0);
        Assert.Equal(3, stats.AcceptBusyRetries);
        Assert.Equal(3, handler.AcceptBusyRetries);
    }

    [Fact]
    public void BusyBeyondTheRetryLimit_IsFatal_AsLinuxTreatsAFailedAccept()
    {
        using var bench = new KernelBench(new GuestKernelOptions { AcceptBusyRetryLimit = 2 }, acceptAll: false);
        bench.Load(a => a.mov(rax, __qword_ptr[rdi]));
        bench.DeliverEptViolation(KernelBench.DataGpa);

        AssertAccept(bench.CompleteLeaf(TdcallLeaf.MemPageAccept, BusyRcx), KernelBench.DataGpa);
        AssertAccept(bench.CompleteLeaf(TdcallLeaf.MemPageAccept, BusyRcx), KernelBench.DataGpa);
        KernelStep step = bench.CompleteLeaf(TdcallLeaf.MemPageAccept, BusyRcx);

        bench.AssertFatal(step, $"TDG.MEM.PAGE.ACCEPT of 0x{KernelBench.DataGpa:x} failed: TDX_OPERAND_BUSY(RCX)", Rip);
        Assert.Equal(2, bench.Handler.AcceptBusyRetries);
    }

    [Fact]
    public void TheRetryBudgetIsPerAccept_NotPerRun()
    {
        using var bench = new KernelBench(new GuestKernelOptions { AcceptBusyRetryLimit = 1 }, acceptAll: false);
        bench.Load(a => a.mov(rax, __qword_ptr[rdi]));
        for (int page = 0; page < 3; page++)
        {
            ulong gpa = KernelBench.DataGpa + ((ulong)page * 0x1000);
            bench.DeliverEptViolation(gpa);
            AssertAccept(bench.CompleteLeaf(TdcallLeaf.MemPageAccept, BusyRcx), gpa);
            bench.AssertResumed(bench.CompleteLeaf(TdcallLeaf.MemPageAccept, TdxStatus.Success), Rip, 0);
        }

        Assert.Equal(3, bench.Handler.AcceptBusyRetries);
    }

    [Fact]
    public void InALazyTd_APageAcceptedByAnotherVcpuBeforeTheHandlerLooks_IsReexecutedWithoutAnAccept()
    {
        using var bench = new KernelBench(new GuestKernelOptions { LazyAccept = true }, acceptAll: false);
        bench.Load(a => a.mov(rax, __qword_ptr[rdi]));
        Assert.Equal(TdxSim.Memory.AcceptResult.Success, bench.Memory.Accept(KernelBench.DataGpa, 0)); // the other vCPU

        KernelStep step = bench.DeliverEptViolation(KernelBench.DataGpa);

        bench.AssertResumed(step, Rip, 0);
        Assert.False(bench.Handler.IsActive);
    }

    private static TdcallCompleted Status(ulong status)
    {
        Gprs regs = default;
        regs[Gpr.Rax] = status;
        return new TdcallCompleted(0, (ushort)TdcallLeaf.MemPageAccept, GprMask.Rax, regs);
    }
}
