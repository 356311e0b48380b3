using TdxSim.Abi;
using TdxSim.Abi.Messages;
using TdxSim.TdxModule.Memory;
using TdxSim.TdxModule.Tests.Support;

namespace TdxSim.TdxModule.Tests;

/// <summary>TD exits that become #VE, EPT violations and PENDING_VE_DISABLE (reference 3.1, 4.4).</summary>
public sealed class TdExitTests
{
    [Theory]
    [InlineData(VeExitReason.Hlt)]
    [InlineData(VeExitReason.IoInstruction)]
    [InlineData(VeExitReason.MwaitInstruction)]
    [InlineData(VeExitReason.MonitorInstruction)]
    [InlineData(VeExitReason.Invd)]
    [InlineData(VeExitReason.Vmcall)]
    [InlineData(VeExitReason.Wbinvd)]
    [InlineData(VeExitReason.ApicWrite)]
    [InlineData(VeExitReason.Pconfig)]
    public void InstructionExit_InjectsVe_WithTheExitAsVeInfo(VeExitReason reason)
    {
        var h = new ModuleHarness();
        var info = new VeInfo(reason, 0x00F4_0008, 0, 0, 2, 0x40);
        TdEntered e = h.Core.HandleTdExit(new TdExited(1, info, ModuleHarness.Distinct()));
        Assert.Equal(TdEntryAction.VeInjected, e.Action);
        Assert.Equal(info, e.Exit);
        Assert.Equal(0, e.WrittenRegisters);
        Assert.Equal(1, h.Core.Counters.Exit(reason));
        Assert.Equal(1, h.Core.Counters.Entry(TdEntryAction.VeInjected));

        TdcallCompleted c = h.Call(1, (ulong)TdcallLeaf.VpVeinfoGet);
        Assert.Equal((ulong)reason, c.Regs[Gpr.Rcx]);
        Assert.Equal(0x00F4_0008UL, c.Regs[Gpr.Rdx]);
        Assert.Equal(2UL | (0x40UL << 32), c.Regs[Gpr.R10]);
    }

    [Theory]
    [InlineData(0UL)]
    [InlineData(TdAttributes.SeptVeDisable)]
    public void EptViolationOnSharedGpa_InjectsVe(ulong attributes)
    {
        var h = new ModuleHarness(new TdxModuleOptions { NumVcpus = 1, Attributes = attributes });
        ulong gpa = GuestPhysical.SharedBit | 0xFEB0_0000;
        TdEntered e = h.Exit(0, VeExitReason.EptViolation, qualification: EptQualification.Write, gpa: gpa, length: 3);
        Assert.Equal(TdEntryAction.VeInjected, e.Action);
        Assert.Equal(gpa, e.Exit.Gpa);
        Assert.Equal(gpa, h.Call(0, (ulong)TdcallLeaf.VpVeinfoGet).Regs[Gpr.R9]);
    }

    [Fact]
    public void EptViolationOnPendingPage_InjectsVe_WhenPendingVeIsAllowed()
    {
        var h = new ModuleHarness(new TdxModuleOptions { NumVcpus = 1, Attributes = 0 }, initial: TdPageState.Pending);
        TdEntered e = h.Exit(0, VeExitReason.EptViolation, qualification: EptQualification.Read, gpa: 0x4_2000);
        Assert.Equal(TdEntryAction.VeInjected, e.Action);
        Assert.False(h.Core.IsTdKilled);
    }

    [Fact]
    public void EptViolationOnPendingPage_WithSeptVeDisable_KillsTheTd()
    {
        var h = new ModuleHarness(new TdxModuleOptions { NumVcpus = 2, Attributes = TdAttributes.SeptVeDisable }, initial: TdPageState.Pending);
        Assert.True(h.Core.PendingVeDisabled);
        TdEntered e = h.Exit(1, VeExitReason.EptViolation, qualification: EptQualification.Read, gpa: 0x4_2000);
        Assert.Equal(TdEntryAction.TdKilled, e.Action);
        Assert.Equal(1, e.Vcpu);
        Assert.True(h.Core.IsTdKilled);
        Assert.Contains("PENDING_VE_DISABLE", h.Core.KillReason, StringComparison.Ordinal);
        Assert.Contains("0x42000", h.Core.KillReason, StringComparison.Ordinal);
        Assert.False(h.Core.IsVeInfoValid(1));
        Assert.Equal(TdEntryAction.TdKilled, h.Hlt(0).Action);
    }

    [Fact]
    public void EptViolationBeyondPrivateMemory_KillsTheTd()
    {
        var h = new ModuleHarness(new TdxModuleOptions { NumVcpus = 1, Attributes = 0 });
        TdEntered e = h.Exit(0, VeExitReason.EptViolation, qualification: EptQualification.Read, gpa: ModuleHarness.DefaultMemory + 0x10);
        Assert.Equal(TdEntryAction.TdKilled, e.Action);
        Assert.Contains("outside private memory", h.Core.KillReason, StringComparison.Ordinal);
    }

    [Fact]
    public void PrivateAccessToAPageConvertedToShared_KillsTheTd()
    {
        var h = new ModuleHarness(new TdxModuleOptions { NumVcpus = 1, Attributes = 0 });
        h.Memory.MakeShared(0x7000);
        Assert.Equal(TdEntryAction.TdKilled, h.Exit(0, VeExitReason.EptViolation, gpa: 0x7008).Action);
        Assert.Contains("converted to shared", h.Core.KillReason, StringComparison.Ordinal);
    }

    [Fact]
    public void EptViolationOnAnAcceptedPage_ResumesTheSameInstruction()
    {
        var h = new ModuleHarness();
        TdEntered e = h.Exit(0, VeExitReason.EptViolation, qualification: EptQualification.Read, gpa: 0x3000, length: 4);
        Assert.Equal(TdEntryAction.Emulated, e.Action);
        Assert.Equal(0u, e.Exit.InstructionLength);
        Assert.Equal(0, e.WrittenRegisters);
        Assert.False(h.Core.IsVeInfoValid(0));
    }

    [Fact]
    public void EptMisconfig_NeverReachesTheModule()
    {
        var h = new ModuleHarness();
        var ex = Assert.Throws<ArgumentException>(() => h.Exit(0, VeExitReason.EptMisconfig));
        Assert.Contains("EPT_MISCONFIG", ex.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentException>(() => h.Exit(0, (VeExitReason)99));
    }

    [Fact]
    public void TdExitFromUnknownVcpu_Throws()
    {
        var h = new ModuleHarness();
        Assert.Throws<ArgumentOutOfRangeException>(() => h.Hlt(2));
    }
}
