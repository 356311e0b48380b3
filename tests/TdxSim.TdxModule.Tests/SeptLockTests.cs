using TdxSim.Abi;
using TdxSim.Abi.Messages;
using TdxSim.TdxModule.Memory;
using TdxSim.TdxModule.Tests.Support;

namespace TdxSim.TdxModule.Tests;

/// <summary>
/// TD-scope SEPT entry locking of TDG.MEM.PAGE.ACCEPT (reference 4.3, "lock contention → OPERAND_BUSY(RCX)"):
/// real try-locks on real threads, holds over the handling's virtual cost in deterministic mode.
/// </summary>
public sealed class SeptLockTests
{
    private const ulong Accept = (ulong)TdcallLeaf.MemPageAccept;
    private const ulong BusyRcx = 0x8000_0200_0000_0001;

    private static TdcallCompleted AcceptAt(ModuleHarness h, int vcpu, ulong rcx, in SeptTiming timing)
    {
        TdcallOutcome outcome = h.Core.HandleTdcall(new TdcallRequested(vcpu, ModuleHarness.Regs((Gpr.Rax, Accept), (Gpr.Rcx, rcx))), timing);
        Assert.Equal(TdcallOutcomeKind.Completed, outcome.Kind);
        return outcome.Completion!;
    }

    [Fact]
    public void VirtualTime_TwoVcpusAcceptingOnePageAtOnce_OneSucceeds_TheOtherIsBusyOnRcx_AndChangesNothing()
    {
        var h = new ModuleHarness(initial: TdPageState.Pending);
        TdcallCompleted first = AcceptAt(h, 0, 0x5000, SeptTiming.At(1_000, 3_000));
        int callsAfterFirst = h.Memory.AcceptCalls;
        TdcallCompleted second = AcceptAt(h, 1, 0x5000, SeptTiming.At(1_000, 3_000));

        Assert.Equal(TdxStatus.Success, first.CompletionStatus);
        Assert.Equal(BusyRcx, second.CompletionStatus);
        Assert.Equal(GprMask.Rax, second.WrittenRegisters);
        Assert.Equal(callsAfterFirst, h.Memory.AcceptCalls); // the busy accept never reached the page
        Assert.Equal(1, h.Core.Counters.AcceptsSucceeded);
        Assert.Equal(1, h.Core.Counters.AcceptsBusy);
        Assert.Equal(1, h.Core.Counters.Snapshot()["accept.operand_busy"]);
    }

    [Fact]
    public void VirtualTime_TheEntryIsHeldUntilTheHandlingEnds_ThenTheRetryFindsThePageAccepted()
    {
        var h = new ModuleHarness(initial: TdPageState.Pending);
        Assert.Equal(TdxStatus.Success, AcceptAt(h, 0, 0x5000, SeptTiming.At(1_000, 3_000)).CompletionStatus);

        Assert.Equal(BusyRcx, AcceptAt(h, 1, 0x5000, SeptTiming.At(2_999, 4_999)).CompletionStatus);
        TdcallCompleted retry = AcceptAt(h, 1, 0x5000, SeptTiming.At(3_000, 5_000));
        Assert.Equal(TdxStatus.PageAlreadyAccepted, retry.CompletionStatus); // level 0 in the low bits
        Assert.Equal(1, h.Core.Counters.AcceptsSucceeded);
        Assert.Equal(1, h.Core.Counters.AcceptsAlreadyAccepted);
    }

    [Fact]
    public void VirtualTime_AcceptsOfDifferentPagesDoNotContend()
    {
        var h = new ModuleHarness(initial: TdPageState.Pending);
        Assert.Equal(TdxStatus.Success, AcceptAt(h, 0, 0x5000, SeptTiming.At(1_000, 3_000)).CompletionStatus);
        Assert.Equal(TdxStatus.Success, AcceptAt(h, 1, 0x6000, SeptTiming.At(1_000, 3_000)).CompletionStatus);
        Assert.Equal(0, h.Core.Counters.AcceptsBusy);
    }

    [Fact]
    public void VirtualTime_A2MiBAcceptInFlight_MakesA4KiBAcceptUnderItBusy()
    {
        var h = new ModuleHarness(initial: TdPageState.Pending);
        const ulong Mb2 = GuestPhysical.LargePageSize;
        Assert.Equal(TdxStatus.Success, AcceptAt(h, 0, Mb2 | 1, SeptTiming.At(0, 10_000)).CompletionStatus);
        Assert.Equal(BusyRcx, AcceptAt(h, 1, Mb2 + 0x7000, SeptTiming.At(5_000, 6_000)).CompletionStatus);
        Assert.Equal(BusyRcx, AcceptAt(h, 1, Mb2 | 1, SeptTiming.At(5_000, 6_000)).CompletionStatus);
        Assert.Equal(TdxStatus.Success, AcceptAt(h, 1, (2 * Mb2) + 0x7000, SeptTiming.At(5_000, 6_000)).CompletionStatus);
    }

    [Fact]
    public void VirtualTime_AZeroCostHandling_HoldsNothing()
    {
        var h = new ModuleHarness(initial: TdPageState.Pending);
        Assert.Equal(TdxStatus.Success, AcceptAt(h, 0, 0x5000, SeptTiming.At(1_000, 1_000)).CompletionStatus);
        Assert.Equal(TdxStatus.PageAlreadyAccepted, AcceptAt(h, 1, 0x5000, SeptTiming.At(1_000, 1_000)).CompletionStatus);
    }

    [Fact]
    public async Task RealTime_AnAcceptInFlightOnAnotherThread_HoldsTheEntry_AndReleasesItWhenDone()
    {
        var h = new ModuleHarness(initial: TdPageState.Pending);
        using var inside = new ManualResetEventSlim();
        using var release = new ManualResetEventSlim();
        h.Memory.DuringAccept = gpa =>
        {
            if (gpa == 0x5000 && !inside.IsSet)
            {
                inside.Set();
                Assert.True(release.Wait(TimeSpan.FromSeconds(10)));
            }
        };

        Task<TdcallCompleted> holder = Task.Run(() => h.Call(0, Accept, rcx: 0x5000));
        Assert.True(inside.Wait(TimeSpan.FromSeconds(10)));

        TdcallCompleted busy = h.Call(1, Accept, rcx: 0x5000);
        TdcallCompleted other = h.Call(1, Accept, rcx: 0x6000); // another entry is free meanwhile
        release.Set();
        TdcallCompleted won = await holder;
        TdcallCompleted retry = h.Call(1, Accept, rcx: 0x5000);

        Assert.Equal(BusyRcx, busy.CompletionStatus);
        Assert.Equal(TdxStatus.Success, other.CompletionStatus);
        Assert.Equal(TdxStatus.Success, won.CompletionStatus);
        Assert.Equal(TdxStatus.PageAlreadyAccepted, retry.CompletionStatus);
        Assert.Equal(1, h.Core.Counters.AcceptsBusy);
    }

    [Fact]
    public void RealTime_AnAcceptThatThrows_StillReleasesTheEntry()
    {
        var h = new ModuleHarness(initial: TdPageState.Pending);
        bool fail = true;
        h.Memory.DuringAccept = _ =>
        {
            if (fail)
            {
                fail = false;
                throw new InvalidOperationException("memory failure");
            }
        };

        Assert.Throws<InvalidOperationException>(() => h.Call(0, Accept, rcx: 0x5000));
        Assert.Equal(TdxStatus.Success, h.Call(1, Accept, rcx: 0x5000).CompletionStatus);
    }

    [Fact]
    public async Task RealTime_ManyThreadsAcceptingTheSamePages_AcceptEachPageExactlyOnce()
    {
        const int Vcpus = 4;
        const int Pages = 256;
        var h = new ModuleHarness(new TdxModuleOptions { NumVcpus = Vcpus }, initial: TdPageState.Pending);
        var busy = new int[Vcpus];
        using var start = new Barrier(Vcpus);
        Task[] threads = [.. Enumerable.Range(0, Vcpus).Select(v => Task.Run(() =>
        {
            start.SignalAndWait();
            for (int p = 0; p < Pages; p++)
            {
                ulong status;
                while ((status = h.Call(v, Accept, rcx: 0x10_0000 + ((ulong)p * 0x1000)).CompletionStatus) == BusyRcx)
                {
                    busy[v]++;
                }

                Assert.True(status == TdxStatus.Success || TdxStatus.ClassOf(status) == TdxStatus.PageAlreadyAccepted, $"0x{status:x}");
            }
        }))];
        await Task.WhenAll(threads);

        Assert.Equal(Pages, h.Core.Counters.AcceptsSucceeded);
        Assert.Equal((Vcpus - 1) * Pages, h.Core.Counters.AcceptsAlreadyAccepted);
        Assert.Equal(busy.Sum(), h.Core.Counters.AcceptsBusy);
    }
}
