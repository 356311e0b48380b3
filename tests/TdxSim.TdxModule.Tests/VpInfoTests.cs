using TdxSim.Abi;
using TdxSim.Abi.Messages;
using TdxSim.TdxModule.Tests.Support;

namespace TdxSim.TdxModule.Tests;

/// <summary>TDG.VP.INFO (reference 1.3) and the KVM selftest verify_tdcall_vp_info (reference 7).</summary>
public sealed class VpInfoTests
{
    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    public void SelftestVerifyTdcallVpInfo_TwoVcpus(int vcpu)
    {
        var h = new ModuleHarness(new TdxModuleOptions { NumVcpus = 2, MaxVcpus = 512, Attributes = TdAttributes.SeptVeDisable });
        TdcallCompleted c = h.Call(vcpu, (ulong)TdcallLeaf.VpInfo);
        Assert.Equal(TdxStatus.Success, c.CompletionStatus);
        ulong gpaw = c.Regs[Gpr.Rcx];
        Assert.Equal(48UL, gpaw & 0x3F);
        Assert.Equal(0UL, gpaw >> 6);
        Assert.Equal(GuestPhysical.SharedBit, 1UL << (int)(gpaw - 1));
        Assert.Equal(TdAttributes.SeptVeDisable, c.Regs[Gpr.Rdx]);
        Assert.Equal(2UL, c.Regs[Gpr.R8] & 0xFFFF_FFFF);
        Assert.Equal(512UL, c.Regs[Gpr.R8] >> 32);
        Assert.Equal((ulong)vcpu, c.Regs[Gpr.R9]);
        Assert.Equal(0UL, c.Regs[Gpr.R10] & ~1UL);
        Assert.Equal(0UL, c.Regs[Gpr.R11]);
        Assert.Equal(
            GprMask.Rax | GprMask.Rcx | GprMask.Rdx | GprMask.R8 | GprMask.R9 | GprMask.R10 | GprMask.R11,
            c.WrittenRegisters);
    }

    [Theory]
    [InlineData(false, 0UL)]
    [InlineData(true, 1UL)]
    public void R10Bit0_FollowsTheOption(bool sysRd, ulong expected)
    {
        var h = new ModuleHarness(new TdxModuleOptions { NumVcpus = 1, SysRdAvailable = sysRd });
        Assert.Equal(expected, h.Call(0, (ulong)TdcallLeaf.VpInfo).Regs[Gpr.R10]);
    }

    [Fact]
    public void MaxVcpus_DefaultsToNumVcpus()
    {
        var h = new ModuleHarness(new TdxModuleOptions { NumVcpus = 3, Attributes = 0 });
        TdcallCompleted c = h.Call(2, (ulong)TdcallLeaf.VpInfo);
        Assert.Equal(3UL | (3UL << 32), c.Regs[Gpr.R8]);
        Assert.Equal(0UL, c.Regs[Gpr.Rdx]);
        Assert.Equal(2UL, c.Regs[Gpr.R9]);
    }
}
