using TdxSim.Abi;
using TdxSim.Abi.Messages;
using TdxSim.Memory;
using TdxSim.TdxModule.Memory;

namespace TdxSim.TdxModule.Tests;

/// <summary>The module over the real <see cref="GuestPhysicalMemory"/> through <see cref="GuestPhysicalMemoryAdapter"/>.</summary>
public sealed class GuestPhysicalMemoryAdapterTests
{
    private static TdcallCompleted Call(TdxModuleCore core, ulong rax, ulong rcx = 0, ulong rdx = 0)
    {
        Gprs regs = default;
        regs[Gpr.Rax] = rax;
        regs[Gpr.Rcx] = rcx;
        regs[Gpr.Rdx] = rdx;
        TdcallOutcome outcome = core.HandleTdcall(new TdcallRequested(0, regs));
        Assert.Equal(TdcallOutcomeKind.Completed, outcome.Kind);
        return outcome.Completion!;
    }

    [Fact]
    public void Accept_OnRealMemory_ZeroesAndReportsEveryResult()
    {
        using var memory = new GuestPhysicalMemory(4 << 20, acceptAll: false);
        var core = new TdxModuleCore(new TdxModuleOptions { NumVcpus = 1 }, new GuestPhysicalMemoryAdapter(memory));
        const ulong accept = (ulong)TdcallLeaf.MemPageAccept;
        Assert.Equal(TdxStatus.Success, Call(core, accept, rcx: 0x20_0000 | 1).CompletionStatus);
        Assert.Equal(PageState.Accepted, memory.GetPageState(0x3F_F000));
        Assert.Equal(0x0000_0B0A_0000_0000UL, Call(core, accept, rcx: 0x20_1000).CompletionStatus);
        Assert.Equal(TdxStatus.Success, Call(core, accept, rcx: 0x1000).CompletionStatus);
        Assert.Equal(0xC000_0B0B_0000_0001UL, Call(core, accept, rcx: 0x0 | 1).CompletionStatus);

        byte[] page = new byte[4096];
        Assert.True(memory.TryReadPrivate(0x1000, page));
        Assert.All(page, b => Assert.Equal(0, b));

        TdcallOutcome beyond = core.HandleTdcall(new TdcallRequested(0, Regs(accept, 4 << 20)));
        Assert.Equal(TdEntryAction.TdKilled, beyond.Fault!.Action);
    }

    [Fact]
    public void Report_ToASharedPage_IsVisibleToTheHost()
    {
        using var memory = new GuestPhysicalMemory(4 << 20);
        Assert.Equal(ConversionResult.Success, memory.ConvertToShared(0x10_0000, 4096));
        var core = new TdxModuleCore(new TdxModuleOptions { NumVcpus = 1 }, new GuestPhysicalMemoryAdapter(memory));
        Assert.True(memory.TryWritePrivate(0x2000, Enumerable.Repeat((byte)0x3C, 64).ToArray()));

        ulong shared = GuestPhysical.SharedBit | 0x10_0000;
        Assert.Equal(TdxStatus.Success, Call(core, (ulong)TdcallLeaf.MrReport, rcx: shared, rdx: 0x2000).CompletionStatus);
        byte[] report = new byte[1024];
        Assert.True(memory.TryReadShared(shared, report));
        Assert.Equal(0x81, report[0]);
        Assert.Equal(0x3C, report[128]);
        Assert.True(core.VerifyReportMac(report));

        // Without the shared bit the same GPA is a private page converted away: the TD dies.
        TdcallOutcome outcome = core.HandleTdcall(new TdcallRequested(0, Regs((ulong)TdcallLeaf.MrReport, 0x10_0000, 0x2000)));
        Assert.Equal(TdEntryAction.TdKilled, outcome.Fault!.Action);
    }

    [Fact]
    public void Adapter_MapsPageStates_AndRefusesUnsharedGpasOnTheSharedPath()
    {
        using var memory = new GuestPhysicalMemory(1 << 20, acceptAll: false);
        memory.ConvertToShared(0x3000, 4096);
        var adapter = new GuestPhysicalMemoryAdapter(memory);
        Assert.Equal(TdPageState.Pending, adapter.GetPageState(0));
        Assert.Equal(TdPageState.ConvertedToShared, adapter.GetPageState(0x3000));
        Assert.Equal(TdPageState.None, adapter.GetPageState(1 << 20));
        Assert.Equal(TdAcceptResult.NotMapped, adapter.Accept(0x3000, 0));
        Assert.Equal((ulong)(1 << 20), adapter.PrivateSize);
        Assert.False(adapter.TryReadShared(0x3000, new byte[8]));
        Assert.True(adapter.TryReadShared(GuestPhysical.SharedBit | 0x3000, new byte[8]));
        Assert.Throws<ArgumentNullException>(() => new GuestPhysicalMemoryAdapter(null!));
    }

    private static Gprs Regs(ulong rax, ulong rcx, ulong rdx = 0)
    {
        Gprs regs = default;
        regs[Gpr.Rax] = rax;
        regs[Gpr.Rcx] = rcx;
        regs[Gpr.Rdx] = rdx;
        return regs;
    }
}
