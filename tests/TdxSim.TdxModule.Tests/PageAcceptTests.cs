using TdxSim.Abi;
using TdxSim.Abi.Messages;
using TdxSim.TdxModule.Memory;
using TdxSim.TdxModule.Tests.Support;

namespace TdxSim.TdxModule.Tests;

/// <summary>TDG.MEM.PAGE.ACCEPT (reference 4.3).</summary>
public sealed class PageAcceptTests
{
    private const ulong Leaf = (ulong)TdcallLeaf.MemPageAccept;
    private const ulong Mb2 = GuestPhysical.LargePageSize;

    [Fact]
    public void PendingPage4K_IsAcceptedAndZeroed()
    {
        var h = new ModuleHarness(initial: TdPageState.Pending);
        h.Memory.Fill(0x5000, 0xCC, 4096);
        TdcallCompleted c = h.Call(0, Leaf, rcx: 0x5000);
        Assert.Equal(TdxStatus.Success, c.CompletionStatus);
        Assert.Equal(GprMask.Rax, c.WrittenRegisters);
        Assert.Equal(TdPageState.Accepted, h.Memory.GetPageState(0x5000));
        Assert.All(h.Memory.PrivateBytes(0x5000, 4096), b => Assert.Equal(0, b));
        Assert.Equal(TdPageState.Pending, h.Memory.GetPageState(0x6000));
    }

    [Fact]
    public void PendingPage2M_IsAcceptedAndZeroed()
    {
        var h = new ModuleHarness(initial: TdPageState.Pending);
        h.Memory.Fill(Mb2, 0x77, (int)Mb2);
        TdcallCompleted c = h.Call(0, Leaf, rcx: Mb2 | 1);
        Assert.Equal(TdxStatus.Success, c.CompletionStatus);
        Assert.Equal(TdPageState.Accepted, h.Memory.GetPageState(Mb2));
        Assert.Equal(TdPageState.Accepted, h.Memory.GetPageState((2 * Mb2) - 4096));
        Assert.Equal(TdPageState.Pending, h.Memory.GetPageState(2 * Mb2));
        Assert.All(h.Memory.PrivateBytes(Mb2, (int)Mb2), b => Assert.Equal(0, b));
    }

    [Theory]
    [InlineData(0x3000UL, 0UL, 0x0000_0B0A_0000_0000UL)]
    [InlineData(0x20_0000UL, 1UL, 0x0000_0B0A_0000_0001UL)]
    public void AcceptedPage_IsAlreadyAcceptedWarning_WithLevel(ulong gpa, ulong level, ulong expected)
    {
        var h = new ModuleHarness();
        h.Memory.Fill(gpa, 0x5A, 16);
        TdcallCompleted c = h.Call(0, Leaf, rcx: gpa | level);
        Assert.Equal(expected, c.CompletionStatus);
        Assert.False(TdxStatus.IsError(c.CompletionStatus));
        Assert.Equal(0x5A, h.Memory.PrivateBytes(gpa, 1)[0]);
    }

    [Fact]
    public void MixedLargePage_IsSizeMismatch_WithLevel()
    {
        var h = new ModuleHarness(initial: TdPageState.Pending);
        Assert.Equal(TdxStatus.Success, h.Call(0, Leaf, rcx: Mb2 + 0x3000).CompletionStatus);
        TdcallCompleted c = h.Call(0, Leaf, rcx: Mb2 | 1);
        Assert.Equal(0xC000_0B0B_0000_0001UL, c.CompletionStatus);
        Assert.Equal(TdPageState.Pending, h.Memory.GetPageState(Mb2));
    }

    [Theory]
    [InlineData(0x5000UL | 2)]                          // level 2 (1 GiB) is not accepted
    [InlineData(0x5000UL | 3)]
    [InlineData(0x5000UL | 7)]
    [InlineData(0x5000UL | (1UL << 3))]                 // reserved bit 3
    [InlineData(0x5000UL | (1UL << 11))]                // reserved bit 11
    [InlineData(0x5000UL | 0x8F8)]                      // several reserved bits
    [InlineData(0x1000UL | 1)]                          // 2 MiB level, 4 KiB aligned only
    [InlineData(0x30_1000UL | 1)]
    [InlineData((1UL << 47) | 0x5000)]                  // shared bit
    [InlineData((1UL << 47) | 0x20_0000 | 1)]
    [InlineData((1UL << 48) | 0x5000)]                  // beyond GPAW 48
    [InlineData((1UL << 51) | 0x5000)]
    [InlineData((1UL << 63) | 0x5000)]
    public void BadPageInfo_IsOperandInvalidRcx(ulong rcx)
    {
        var h = new ModuleHarness(initial: TdPageState.Pending);
        TdcallCompleted c = h.Call(0, Leaf, rcx: rcx);
        Assert.Equal(0xC000_0100_0000_0001UL, c.CompletionStatus);
        Assert.Equal(0, h.Memory.AcceptCalls);
        Assert.False(h.Core.IsTdKilled);
    }

    [Theory]
    [InlineData(ModuleHarness.DefaultMemory, 0UL)]
    [InlineData(ModuleHarness.DefaultMemory + 0x20_0000, 1UL)]
    [InlineData(0x7FFF_FFFF_F000UL, 0UL)]
    public void GpaWithoutPrivatePage_KillsTheTd(ulong gpa, ulong level)
    {
        var h = new ModuleHarness();
        TdcallOutcome outcome = h.Outcome(1, Leaf, rcx: gpa | level);
        Assert.Equal(TdcallOutcomeKind.Faulted, outcome.Kind);
        TdEntered fault = outcome.Fault!;
        Assert.Equal(TdEntryAction.TdKilled, fault.Action);
        Assert.Equal(1, fault.Vcpu);
        Assert.Equal(VeExitReason.EptViolation, fault.Exit.ExitReason);
        Assert.Equal(gpa, fault.Exit.Gpa);
        Assert.True(h.Core.IsTdKilled);
        Assert.Contains($"0x{gpa:X}", h.Core.KillReason, StringComparison.Ordinal);
    }

    [Fact]
    public void PageConvertedToShared_KillsTheTd()
    {
        var h = new ModuleHarness();
        h.Memory.MakeShared(0x9000);
        Assert.Equal(TdEntryAction.TdKilled, h.Outcome(0, Leaf, rcx: 0x9000).Fault!.Action);
    }

    [Fact]
    public void AfterKill_EveryRequestGetsTdKilled()
    {
        var h = new ModuleHarness();
        h.Outcome(0, Leaf, rcx: ModuleHarness.DefaultMemory);
        string reason = h.Core.KillReason!;
        TdcallOutcome next = h.Outcome(1, (ulong)TdcallLeaf.VpInfo);
        Assert.Equal(TdcallOutcomeKind.Faulted, next.Kind);
        Assert.Equal(TdEntryAction.TdKilled, next.Fault!.Action);
        Assert.Equal(TdEntryAction.TdKilled, h.Cpuid(1, 0).Action);
        Assert.Equal(reason, h.Core.KillReason);
        Assert.Equal(3, h.Core.Counters.Entry(TdEntryAction.TdKilled));
    }
}
