using TdxSim.Abi;
using TdxSim.Abi.Messages;
using TdxSim.TdxModule.Tests.Support;
using TdxSim.TdxModule.Virtualization;

namespace TdxSim.TdxModule.Tests;

/// <summary>RDMSR/WRMSR policy (<see cref="MsrPolicy"/>): native per vCPU, virtualized, #GP, #VE.</summary>
public sealed class MsrTests
{
    [Theory]
    [InlineData(MsrPolicy.SpecCtrl, 0x5UL)]
    [InlineData(MsrPolicy.SysenterCs, 0x10UL)]
    [InlineData(MsrPolicy.SysenterEsp, 0xFFFF_8000_0000_1000UL)]
    [InlineData(MsrPolicy.SysenterEip, 0x0000_7FFF_FFFF_F000UL)]
    [InlineData(MsrPolicy.Pat, 0x0106_0504_0701_0006UL)]
    [InlineData(MsrPolicy.Star, 0x0023_0010_0000_0000UL)]
    [InlineData(MsrPolicy.Lstar, 0xFFFF_FFFF_8100_0000UL)]
    [InlineData(MsrPolicy.Fmask, 0x4_7700UL)]
    [InlineData(MsrPolicy.FsBase, 0x0000_7F00_1234_5000UL)]
    [InlineData(MsrPolicy.GsBase, 0xFFFF_8880_0000_0000UL)]
    [InlineData(MsrPolicy.KernelGsBase, 0xFFFF_FFFF_FFFF_F000UL)]
    [InlineData(MsrPolicy.TscAux, 0xFFFF_FFFFUL)]
    [InlineData(MsrPolicy.DebugCtl, 0x1UL)]
    public void NativeMsr_IsKeptPerVcpu(uint msr, ulong value)
    {
        var h = new ModuleHarness();
        ulong other = ModuleHarness.MsrValue(h.Rdmsr(1, msr));
        TdEntered write = h.Wrmsr(0, msr, value);
        Assert.Equal(TdEntryAction.Emulated, write.Action);
        Assert.Equal(0, write.WrittenRegisters);
        Assert.Equal(2u, write.Exit.InstructionLength);

        TdEntered read = h.Rdmsr(0, msr);
        Assert.Equal(TdEntryAction.Emulated, read.Action);
        Assert.Equal(GprMask.Rax | GprMask.Rdx, read.WrittenRegisters);
        Assert.Equal(value, ModuleHarness.MsrValue(read));
        Assert.Equal((uint)value, read.Regs[Gpr.Rax]);
        Assert.Equal(value >> 32, read.Regs[Gpr.Rdx]);
        Assert.Equal(other, ModuleHarness.MsrValue(h.Rdmsr(1, msr)));
        Assert.False(h.Core.IsVeInfoValid(0));
    }

    [Theory]
    [InlineData(MsrPolicy.Efer, VcpuMsrFile.InitialEfer)]
    [InlineData(MsrPolicy.Pat, VcpuMsrFile.InitialPat)]
    [InlineData(MsrPolicy.MiscEnable, 0x1801UL)]
    [InlineData(MsrPolicy.ArchCapabilities, TdxModuleCore.ArchCapabilitiesValue)]
    [InlineData(MsrPolicy.PerfCapabilities, 0UL)]
    [InlineData(MsrPolicy.Xss, 0UL)]
    [InlineData(MsrPolicy.FsBase, 0UL)]
    public void VirtualizedOrNativeMsr_HasItsInitialValue(uint msr, ulong expected)
    {
        var h = new ModuleHarness();
        TdEntered e = h.Rdmsr(1, msr);
        Assert.Equal(TdEntryAction.Emulated, e.Action);
        Assert.Equal(expected, ModuleHarness.MsrValue(e));
    }

    [Fact]
    public void MiscEnable_ReportsPerfmonWithThePerfmonAttribute()
    {
        var h = new ModuleHarness(new TdxModuleOptions { NumVcpus = 1, Attributes = TdAttributes.Perfmon });
        Assert.Equal(0x1881UL, ModuleHarness.MsrValue(h.Rdmsr(0, MsrPolicy.MiscEnable)));
    }

    [Theory]
    [InlineData(MsrPolicy.FsBase, 0x0000_8000_0000_0000UL)]        // not canonical
    [InlineData(MsrPolicy.GsBase, 0x1234_0000_0000_0000UL)]
    [InlineData(MsrPolicy.KernelGsBase, 0xFFFF_7FFF_FFFF_FFFFUL)]
    [InlineData(MsrPolicy.Lstar, 0x0001_0000_0000_0000UL)]
    [InlineData(MsrPolicy.SysenterEip, 0x8000_0000_0000_0000UL)]
    [InlineData(MsrPolicy.TscAux, 1UL << 32)]
    [InlineData(MsrPolicy.Pat, 0x0007_0406_0007_0402UL)]           // memory type 2 is reserved
    [InlineData(MsrPolicy.Pat, 0x0800_0000_0000_0000UL)]
    [InlineData(MsrPolicy.SpecCtrl, 1UL << 10)]
    [InlineData(MsrPolicy.PredCmd, 2UL)]
    [InlineData(MsrPolicy.FlushCmd, 1UL << 32)]
    [InlineData(MsrPolicy.Xss, 1UL << 8)]
    [InlineData(MsrPolicy.DebugCtl, 1UL << 2)]                     // reserved
    [InlineData(MsrPolicy.DebugCtl, 1UL << 16)]
    [InlineData(MsrPolicy.DebugCtl, 1UL << 15)]                    // RTM debug without TSX
    [InlineData(MsrPolicy.DebugCtl, 1UL << 14)]                    // FREEZE_WHILE_SMM without PERFMON
    [InlineData(MsrPolicy.ArchCapabilities, 0UL)]
    [InlineData(MsrPolicy.PerfCapabilities, 0UL)]
    [InlineData(0x800u, 0UL)]                                      // reserved x2APIC registers
    [InlineData(0x831u, 0UL)]
    [InlineData(0x8FFu, 0UL)]
    [InlineData(0x480u, 0UL)]                                      // VMX capabilities
    [InlineData(0xC1u, 0UL)]                                       // PMC0 without PERFMON
    [InlineData(0x6A2u, 0UL)]                                      // S_CET without XFAM.CET
    [InlineData(0x9Eu, 0UL)]                                       // SMBASE
    public void Write_InjectsGeneralProtection(uint msr, ulong value)
    {
        var h = new ModuleHarness();
        TdEntered first = h.Rdmsr(0, msr);
        ulong before = first.Action == TdEntryAction.Emulated ? ModuleHarness.MsrValue(first) : 0;
        TdEntered e = h.Wrmsr(0, msr, value);
        Assert.Equal(TdEntryAction.GeneralProtectionInjected, e.Action);
        Assert.Equal(0, e.WrittenRegisters);
        Assert.False(h.Core.IsVeInfoValid(0));
        if (h.Rdmsr(0, msr) is { Action: TdEntryAction.Emulated } after)
        {
            Assert.Equal(before, ModuleHarness.MsrValue(after));
        }
    }

    [Theory]
    [InlineData(MsrPolicy.PredCmd)]
    [InlineData(MsrPolicy.FlushCmd)]
    [InlineData(0x801u)]
    [InlineData(0x840u)]
    [InlineData(0x48Au)]
    [InlineData(0x186u)]
    [InlineData(0x1C4u)]
    [InlineData(0x1500u)]
    [InlineData(0xD90u)]
    public void Read_InjectsGeneralProtection(uint msr)
    {
        var h = new ModuleHarness();
        Assert.Equal(TdEntryAction.GeneralProtectionInjected, h.Rdmsr(1, msr).Action);
    }

    [Theory]
    [InlineData(0x1Bu)]              // IA32_APIC_BASE: the VMM emulates it
    [InlineData(0x3Au)]              // IA32_FEATURE_CONTROL
    [InlineData(0x8Bu)]              // IA32_BIOS_SIGN_ID
    [InlineData(0x803u)]             // x2APIC version
    [InlineData(0x808u)]             // TPR: a GuestSystem CPU virtualizes it; one that forwards it gets the #VE path
    [InlineData(0x80Bu)]             // EOI
    [InlineData(0x80Fu)]             // SPIV
    [InlineData(0x830u)]             // ICR
    [InlineData(0x83Fu)]             // SELF_IPI
    [InlineData(0x6E0u)]             // TSC_DEADLINE
    [InlineData(0x1F8u)]             // DCA
    [InlineData(0x981u)]             // TME
    [InlineData(0xC000_0083u)]       // CSTAR: in the bitmap range but not listed
    [InlineData(0x2000u)]            // outside the MSR bitmap ranges
    [InlineData(0x4000_0000u)]
    [InlineData(0xC001_0000u)]
    public void UnlistedOrParavirtualizedMsr_InjectsVe_ForReadAndWrite(uint msr)
    {
        var h = new ModuleHarness();
        TdEntered read = h.Rdmsr(0, msr);
        Assert.Equal(TdEntryAction.VeInjected, read.Action);
        Assert.Equal(VeExitReason.MsrRead, read.Exit.ExitReason);
        h.Call(0, (ulong)TdcallLeaf.VpVeinfoGet);
        TdEntered write = h.Wrmsr(0, msr, 1);
        Assert.Equal(TdEntryAction.VeInjected, write.Action);
        Assert.Equal(VeExitReason.MsrWrite, write.Exit.ExitReason);
    }

    [Theory]
    [InlineData(MsrPolicy.MiscEnable, 0x1801UL)]
    [InlineData(MsrPolicy.Tsc, 0UL)]
    [InlineData(MsrPolicy.X2ApicId, 5UL)]
    [InlineData(MsrPolicy.Efer, VcpuMsrFile.InitialEfer & ~(1UL << 11))]     // clearing NXE: unsupported change
    [InlineData(MsrPolicy.Efer, VcpuMsrFile.InitialEfer & ~(1UL << 8))]      // clearing LME
    [InlineData(MsrPolicy.DebugCtl, 1UL << 6)]                               // TR without BTS
    public void Write_InjectsVe(uint msr, ulong value)
    {
        var h = new ModuleHarness();
        Assert.Equal(TdEntryAction.VeInjected, h.Wrmsr(0, msr, value).Action);
        Assert.True(h.Core.IsVeInfoValid(0));
    }

    [Fact]
    public void Efer_OnlySceMayChange_AndLmaIsReadOnly()
    {
        var h = new ModuleHarness();
        Assert.Equal(TdEntryAction.Emulated, h.Wrmsr(0, MsrPolicy.Efer, VcpuMsrFile.InitialEfer & ~1UL).Action);
        Assert.Equal(VcpuMsrFile.InitialEfer & ~1UL, ModuleHarness.MsrValue(h.Rdmsr(0, MsrPolicy.Efer)));

        // A write that clears LMA keeps LMA (read-only) and otherwise only restores SCE.
        Assert.Equal(TdEntryAction.Emulated, h.Wrmsr(0, MsrPolicy.Efer, VcpuMsrFile.InitialEfer & ~(1UL << 10)).Action);
        Assert.Equal(VcpuMsrFile.InitialEfer, ModuleHarness.MsrValue(h.Rdmsr(0, MsrPolicy.Efer)));
    }

    [Fact]
    public void DebugCtl_UncorePmiBit_IsVirtualizedAsZero()
    {
        var h = new ModuleHarness();
        Assert.Equal(TdEntryAction.Emulated, h.Wrmsr(0, MsrPolicy.DebugCtl, (1UL << 13) | 1).Action);
        Assert.Equal(1UL, ModuleHarness.MsrValue(h.Rdmsr(0, MsrPolicy.DebugCtl)));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    public void X2ApicIdRead_IsTheVcpuIndex_WithEnumTopology(int vcpu)
    {
        var h = new ModuleHarness();
        TdEntered e = h.Rdmsr(vcpu, MsrPolicy.X2ApicId);
        Assert.Equal(TdEntryAction.Emulated, e.Action);
        Assert.Equal((ulong)vcpu, ModuleHarness.MsrValue(e));
    }

    [Fact]
    public void X2ApicIdRead_WithoutEnumTopology_InjectsVe()
    {
        var h = new ModuleHarness(new TdxModuleOptions { NumVcpus = 1, EnumTopologyAtStart = false });
        Assert.Equal(TdEntryAction.VeInjected, h.Rdmsr(0, MsrPolicy.X2ApicId).Action);
    }

    [Fact]
    public void TscRead_IsTheCpusJob_AndThrows()
    {
        var h = new ModuleHarness();
        var ex = Assert.Throws<InvalidOperationException>(() => h.Rdmsr(0, MsrPolicy.Tsc));
        Assert.Contains("0x10", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void MsrVe_WhileVeInfoValid_IsDoubleFault()
    {
        var h = new ModuleHarness();
        h.Rdmsr(0, 0x1B);
        Assert.Equal(TdEntryAction.DoubleFaultInjected, h.Wrmsr(0, 0x830, 0).Action);

        // #GP and native accesses do not depend on VE info.
        Assert.Equal(TdEntryAction.GeneralProtectionInjected, h.Rdmsr(0, 0x801).Action);
        Assert.Equal(TdEntryAction.Emulated, h.Rdmsr(0, MsrPolicy.Lstar).Action);
    }

    [Fact]
    public void PolicyTable_IsSortedAndNonOverlapping_AndLookupFindsEveryRow()
    {
        ReadOnlySpan<MsrRule> rules = MsrPolicy.Rules;
        for (int i = 0; i < rules.Length; i++)
        {
            Assert.True(rules[i].First <= rules[i].Last, rules[i].Name);
            if (i > 0)
            {
                Assert.True(rules[i - 1].Last < rules[i].First, $"{rules[i - 1].Name} overlaps {rules[i].Name}");
            }

            Assert.Equal(rules[i], MsrPolicy.Lookup(rules[i].First));
            Assert.Equal(rules[i], MsrPolicy.Lookup(rules[i].Last));
        }

        Assert.Equal(MsrAction.VirtualizationException, MsrPolicy.Lookup(0x1B).Read);
        Assert.Equal("outside the MSR bitmap", MsrPolicy.Lookup(0x4000_0000).Name);
    }
}
