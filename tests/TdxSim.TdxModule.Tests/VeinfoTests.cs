using TdxSim.Abi;
using TdxSim.Abi.Messages;
using TdxSim.TdxModule.Tests.Support;

namespace TdxSim.TdxModule.Tests;

/// <summary>TDG.VP.VEINFO.GET and the #VE nesting rule (reference 1.3, 3.2).</summary>
public sealed class VeinfoTests
{
    private const ushort Outputs = GprMask.Rax | GprMask.Rcx | GprMask.Rdx | GprMask.R8 | GprMask.R9 | GprMask.R10;

    [Fact]
    public void NoVeInfo_IsNoValidVeInfo_WithZeroedOutputs()
    {
        var h = new ModuleHarness();
        TdcallCompleted c = h.Call(0, (ulong)TdcallLeaf.VpVeinfoGet, rcx: 0x1234, rdx: 0x5678, r8: 9, r9: 10);
        Assert.Equal(0xC000_0704_0000_0000UL, c.CompletionStatus);
        Assert.Equal(Outputs, c.WrittenRegisters);
        Assert.Equal(0UL, c.Regs[Gpr.Rcx]);
        Assert.Equal(0UL, c.Regs[Gpr.Rdx]);
        Assert.Equal(0UL, c.Regs[Gpr.R8]);
        Assert.Equal(0UL, c.Regs[Gpr.R9]);
        Assert.Equal(0UL, c.Regs[Gpr.R10]);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    public void ValidVeInfo_IsReturnedOnceThenCleared(byte version)
    {
        var h = new ModuleHarness();
        ulong qual = IoQualification.Encode(1, isIn: false, port: 0x3F8);
        var info = new VeInfo(VeExitReason.IoInstruction, qual, 0xFFFF_8000_0000_1000, 0x1000, 1, 0xABCD);
        TdEntered entry = h.Core.HandleTdExit(new TdExited(1, info, default));
        Assert.Equal(TdEntryAction.VeInjected, entry.Action);
        Assert.True(h.Core.IsVeInfoValid(1));

        TdcallCompleted c = h.Call(1, ModuleHarness.Rax(TdcallLeaf.VpVeinfoGet, version));
        Assert.Equal(TdxStatus.Success, c.CompletionStatus);
        Assert.Equal(Outputs, c.WrittenRegisters);
        Assert.Equal(30UL, c.Regs[Gpr.Rcx]);
        Assert.Equal(qual, c.Regs[Gpr.Rdx]);
        Assert.Equal(0xFFFF_8000_0000_1000UL, c.Regs[Gpr.R8]);
        Assert.Equal(0x1000UL, c.Regs[Gpr.R9]);
        Assert.Equal(1UL | (0xABCDUL << 32), c.Regs[Gpr.R10]);
        Assert.False(h.Core.IsVeInfoValid(1));

        // Read once: the second call finds nothing.
        Assert.Equal(TdxStatus.NoValidVeInfo, h.Call(1, ModuleHarness.Rax(TdcallLeaf.VpVeinfoGet, version)).CompletionStatus);
    }

    [Fact]
    public void VeInfo_IsPerVcpu()
    {
        var h = new ModuleHarness();
        h.Hlt(0);
        Assert.Equal(TdxStatus.NoValidVeInfo, h.Call(1, (ulong)TdcallLeaf.VpVeinfoGet).CompletionStatus);
        Assert.Equal(TdxStatus.Success, h.Call(0, (ulong)TdcallLeaf.VpVeinfoGet).CompletionStatus);
    }

    [Fact]
    public void VersionTwo_IsOperandInvalidRax_WithZeroedOutputs_AndKeepsVeInfo()
    {
        var h = new ModuleHarness();
        h.Hlt(0);
        TdcallCompleted c = h.Call(0, ModuleHarness.Rax(TdcallLeaf.VpVeinfoGet, 2));
        Assert.Equal(0xC000_0100_0000_0000UL, c.CompletionStatus);
        Assert.Equal(Outputs, c.WrittenRegisters);
        Assert.True(h.Core.IsVeInfoValid(0));
    }

    [Fact]
    public void VeWhileVeInfoValid_InjectsDoubleFault_AndKeepsTheFirstVeInfo()
    {
        var h = new ModuleHarness();
        Assert.Equal(TdEntryAction.VeInjected, h.Hlt(0).Action);
        TdEntered second = h.Exit(0, VeExitReason.IoInstruction, qualification: 0x3F8_0000);
        Assert.Equal(TdEntryAction.DoubleFaultInjected, second.Action);
        Assert.Equal(1, h.Core.Counters.Entry(TdEntryAction.DoubleFaultInjected));

        TdcallCompleted c = h.Call(0, (ulong)TdcallLeaf.VpVeinfoGet);
        Assert.Equal((ulong)VeExitReason.Hlt, c.Regs[Gpr.Rcx]);

        // Once read, the next #VE is delivered normally.
        Assert.Equal(TdEntryAction.VeInjected, h.Exit(0, VeExitReason.IoInstruction).Action);
    }

    [Fact]
    public void NestingRule_IsPerVcpu()
    {
        var h = new ModuleHarness();
        Assert.Equal(TdEntryAction.VeInjected, h.Hlt(0).Action);
        Assert.Equal(TdEntryAction.VeInjected, h.Hlt(1).Action);
    }
}
