using TdxSim.Abi;
using TdxSim.Abi.Messages;
using TdxSim.TdxModule.Tests.Support;

namespace TdxSim.TdxModule.Tests;

/// <summary>RAX decoding of TDCALL (reference 1.1): reserved bits, versions, unknown and unmodelled leaves.</summary>
public sealed class DispatchTests
{
    private const ulong OperandInvalidRax = 0xC000_0100_0000_0000;

    [Theory]
    [InlineData(TdcallLeaf.VpInfo, 24)]
    [InlineData(TdcallLeaf.VpInfo, 31)]
    [InlineData(TdcallLeaf.VpInfo, 32)]
    [InlineData(TdcallLeaf.VpInfo, 63)]
    [InlineData(TdcallLeaf.VmRd, 40)]
    [InlineData(TdcallLeaf.VpVmcall, 24)]
    [InlineData(TdcallLeaf.MemPageAccept, 50)]
    public void ReservedRaxBit_IsOperandInvalidRax(TdcallLeaf leaf, int bit)
    {
        var h = new ModuleHarness();
        TdcallCompleted c = h.Call(0, (ulong)leaf | (1UL << bit), rcx: 0xFFCC);
        Assert.Equal(OperandInvalidRax, c.CompletionStatus);
        Assert.Equal(GprMask.Rax, c.WrittenRegisters);
        Assert.Equal((ushort)leaf, c.Leaf);
        Assert.Equal("TDX_OPERAND_INVALID(RAX)", TdxStatus.Name(c.CompletionStatus));
    }

    [Theory]
    [InlineData(TdcallLeaf.VpVmcall, 1)]
    [InlineData(TdcallLeaf.VpInfo, 1)]
    [InlineData(TdcallLeaf.MrRtmrExtend, 1)]
    [InlineData(TdcallLeaf.MrReport, 1)]
    [InlineData(TdcallLeaf.MemPageAccept, 1)]
    [InlineData(TdcallLeaf.VmWr, 1)]
    [InlineData(TdcallLeaf.VpInfo, 255)]
    [InlineData(TdcallLeaf.VmRd, 2)]
    [InlineData(TdcallLeaf.VpVeinfoGet, 2)]
    [InlineData(TdcallLeaf.VpVeinfoGet, 255)]
    public void UnsupportedVersion_IsOperandInvalidRax(TdcallLeaf leaf, byte version)
    {
        var h = new ModuleHarness();
        TdcallCompleted c = h.Call(0, ModuleHarness.Rax(leaf, version), rdx: TdMetadataField.TdCtls);
        Assert.Equal(OperandInvalidRax, c.CompletionStatus);
    }

    [Fact]
    public void VersionOne_IsAcceptedForVmRdAndVeinfoGet()
    {
        var h = new ModuleHarness();
        Assert.Equal(TdxStatus.Success, h.Call(0, ModuleHarness.Rax(TdcallLeaf.VmRd, 1), rdx: TdMetadataField.TdCtls).CompletionStatus);

        // No VE info yet: the leaf ran (it did not reject the version) and reports that.
        Assert.Equal(TdxStatus.NoValidVeInfo, h.Call(0, ModuleHarness.Rax(TdcallLeaf.VpVeinfoGet, 1)).CompletionStatus);
    }

    [Theory]
    [InlineData(13)]
    [InlineData(14)]
    [InlineData(28)]
    [InlineData(63)]
    [InlineData(100)]
    [InlineData(0xFFFF)]
    public void UnknownLeaf_IsOperandInvalidRax(int leaf)
    {
        var h = new ModuleHarness();
        TdcallCompleted c = h.Call(1, (ulong)leaf);
        Assert.Equal(0xC000_0100_0000_0000UL, c.CompletionStatus);
        Assert.Equal((ushort)leaf, c.Leaf);
        Assert.Equal(GprMask.Rax, c.WrittenRegisters);
    }

    [Theory]
    [InlineData(TdcallLeaf.VpCpuidveSet)]
    [InlineData(TdcallLeaf.VpRd)]
    [InlineData(TdcallLeaf.VpWr)]
    [InlineData(TdcallLeaf.SysRd)]
    [InlineData(TdcallLeaf.SysRdAll)]
    [InlineData(TdcallLeaf.ServtdRd)]
    [InlineData(TdcallLeaf.ServtdWr)]
    [InlineData(TdcallLeaf.MrVerifyReport)]
    [InlineData(TdcallLeaf.MemPageAttrRd)]
    [InlineData(TdcallLeaf.MemPageAttrWr)]
    [InlineData(TdcallLeaf.VpEnter)]
    [InlineData(TdcallLeaf.VpInvept)]
    [InlineData(TdcallLeaf.VpInvvpid)]
    public void UnmodelledLeaf_IsOperandInvalidRax(TdcallLeaf leaf)
    {
        var h = new ModuleHarness();
        Assert.Equal(OperandInvalidRax, h.Call(0, (ulong)leaf).CompletionStatus);
    }

    [Theory]
    [InlineData(-1)]
    [InlineData(2)]
    [InlineData(1000)]
    public void TdcallFromUnknownVcpu_Throws(int vcpu)
    {
        var h = new ModuleHarness();
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => h.Tdcall(vcpu, ModuleHarness.Regs((Gpr.Rax, 1))));
        Assert.Contains($"no vCPU {vcpu}", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void TdcallWhileVmcallInFlight_Throws()
    {
        var h = new ModuleHarness();
        Assert.Equal(TdcallOutcomeKind.ForwardToVmm, h.Outcome(0, 0, rcx: TdVmcall.LinuxSelectMask).Kind);
        var ex = Assert.Throws<InvalidOperationException>(() => h.Call(0, (ulong)TdcallLeaf.VpInfo));
        Assert.Contains("vCPU 0", ex.Message, StringComparison.Ordinal);
        Assert.Throws<InvalidOperationException>(() => h.Hlt(0));

        // The other vCPU is unaffected.
        Assert.Equal(TdxStatus.Success, h.Call(1, (ulong)TdcallLeaf.VpInfo).CompletionStatus);
    }

    [Fact]
    public void Counters_CountLeavesAndStatusClasses()
    {
        var h = new ModuleHarness();
        h.Call(0, (ulong)TdcallLeaf.VpInfo);
        h.Call(1, (ulong)TdcallLeaf.VpInfo);
        h.Call(0, 77);
        h.Call(0, (ulong)TdcallLeaf.VpVeinfoGet);
        Assert.Equal(2, h.Core.Counters.Leaf((ushort)TdcallLeaf.VpInfo));
        Assert.Equal(1, h.Core.Counters.Leaf(77));
        Assert.Equal(2, h.Core.Counters.Status(TdxStatus.Success));
        Assert.Equal(1, h.Core.Counters.Status(TdxStatus.OperandInvalid));
        Assert.Equal(1, h.Core.Counters.Status(TdxStatus.NoValidVeInfo));
        IReadOnlyDictionary<string, long> snapshot = h.Core.Counters.Snapshot();
        Assert.Equal(2, snapshot["tdcall.TDG.VP.INFO"]);
        Assert.Equal(1, snapshot["tdcall.TDCALL(77)"]);
        Assert.Equal(2, snapshot["status.TDX_SUCCESS"]);
        Assert.Equal(1, snapshot["status.TDX_NO_VALID_VE_INFO"]);
        Assert.DoesNotContain("tdcall.TDG.MR.REPORT", snapshot.Keys);
    }
}
