using System.Text;
using TdxSim.Abi;
using TdxSim.Abi.Messages;
using TdxSim.TdxModule.Tests.Support;

namespace TdxSim.TdxModule.Tests;

/// <summary>CPUID leaves the module virtualizes (contract section 3) and the ones it turns into #VE.</summary>
public sealed class CpuidTests
{
    private static string Ascii(params ulong[] regs)
        => string.Concat(regs.Select(r => Encoding.ASCII.GetString(BitConverter.GetBytes((uint)r))));

    private static TdEntered Emulated(ModuleHarness h, int vcpu, uint leaf, uint subleaf = 0)
    {
        TdEntered e = h.Cpuid(vcpu, leaf, subleaf);
        Assert.Equal(TdEntryAction.Emulated, e.Action);
        Assert.Equal(GprMask.Rax | GprMask.Rbx | GprMask.Rcx | GprMask.Rdx, e.WrittenRegisters);
        Assert.Equal(2u, e.Exit.InstructionLength);
        Assert.False(h.Core.IsVeInfoValid(vcpu));
        return e;
    }

    [Fact]
    public void Leaf0_IsGenuineIntel_WithMaxBasicLeaf0x21()
    {
        var h = new ModuleHarness();
        TdEntered e = Emulated(h, 0, 0);
        Assert.Equal(0x21UL, e.Regs[Gpr.Rax]);
        Assert.Equal("GenuineIntel", Ascii(e.Regs[Gpr.Rbx], e.Regs[Gpr.Rdx], e.Regs[Gpr.Rcx]));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void Leaf1_EbxBits31To24_IsTheVcpuIndex(int vcpu)
    {
        var h = new ModuleHarness(new TdxModuleOptions { NumVcpus = 4 });
        TdEntered e = Emulated(h, vcpu, 1);
        ulong ebx = e.Regs[Gpr.Rbx];
        ulong ecx = e.Regs[Gpr.Rcx];
        ulong edx = e.Regs[Gpr.Rdx];
        Assert.Equal((ulong)vcpu, (ebx >> 24) & 0xFF);
        Assert.Equal(8UL, (ebx >> 8) & 0xFF);
        Assert.Equal(4UL, (ebx >> 16) & 0xFF);
        Assert.Equal(1UL, ecx & 1);                 // SSE3
        Assert.Equal(1UL, (ecx >> 31) & 1);         // hypervisor
        Assert.Equal(1UL, (ecx >> 21) & 1);         // x2APIC
        Assert.Equal(0UL, (ecx >> 27) & 1);         // OSXSAVE
        Assert.Equal(1UL, (ecx >> 26) & 1);         // XSAVE
        Assert.Equal(1UL, (ecx >> 30) & 1);         // RDRAND
        Assert.Equal(1UL, (edx >> 25) & 1);         // SSE
        Assert.Equal(1UL, (edx >> 26) & 1);         // SSE2
        Assert.Equal(1UL, (edx >> 28) & 1);         // HTT: several logical processors
        Assert.Equal(0UL, (edx >> 12) & 1);         // MTRR not virtualized
        Assert.Equal(6UL, (e.Regs[Gpr.Rax] >> 8) & 0xF);
        Assert.Equal(0x8FUL, ((e.Regs[Gpr.Rax] >> 12) & 0xF0) | ((e.Regs[Gpr.Rax] >> 4) & 0xF));
        Assert.Equal(0UL, e.Regs[Gpr.Rax] >> 32);
    }

    [Fact]
    public void Leaf1_WithOneVcpu_HasNoHtt()
    {
        var h = new ModuleHarness(new TdxModuleOptions { NumVcpus = 1 });
        Assert.Equal(0UL, (Emulated(h, 0, 1).Regs[Gpr.Rdx] >> 28) & 1);
    }

    [Fact]
    public void Leaf0x21_Subleaf0_IsIntelTdx()
    {
        var h = new ModuleHarness();
        TdEntered e = Emulated(h, 1, 0x21);
        Assert.Equal(0UL, e.Regs[Gpr.Rax]);
        Assert.Equal("IntelTDX    ", Ascii(e.Regs[Gpr.Rbx], e.Regs[Gpr.Rdx], e.Regs[Gpr.Rcx]));
        Assert.Equal("Inte", Ascii(e.Regs[Gpr.Rbx]));
        Assert.Equal("lTDX", Ascii(e.Regs[Gpr.Rdx]));
        Assert.Equal("    ", Ascii(e.Regs[Gpr.Rcx]));
    }

    [Theory]
    [InlineData(0x4000_0000u, 0u)]
    [InlineData(0x4000_0001u, 0u)]
    [InlineData(0x4FFF_FFFFu, 0u)]
    [InlineData(0x21u, 1u)]
    [InlineData(0x2u, 0u)]
    [InlineData(0x4u, 0u)]
    [InlineData(0x6u, 0u)]
    [InlineData(0x1Fu, 0u)]
    [InlineData(0x8000_0002u, 0u)]
    [InlineData(0x8000_0006u, 0u)]
    public void OtherLeaves_InjectVe(uint leaf, uint subleaf)
    {
        var h = new ModuleHarness();
        TdEntered e = h.Cpuid(0, leaf, subleaf);
        Assert.Equal(TdEntryAction.VeInjected, e.Action);
        Assert.Equal(VeExitReason.Cpuid, e.Exit.ExitReason);
        Assert.Equal(0, e.WrittenRegisters);
        Assert.True(h.Core.IsVeInfoValid(0));
        TdcallCompleted info = h.Call(0, (ulong)TdcallLeaf.VpVeinfoGet);
        Assert.Equal(10UL, info.Regs[Gpr.Rcx]);
        Assert.Equal(2UL, info.Regs[Gpr.R10]);
    }

    [Theory]
    [InlineData(0x22u)]
    [InlineData(0x3FFF_FFFFu)]
    [InlineData(0x5000_0000u)]
    [InlineData(0x8000_0009u)]
    [InlineData(0xFFFF_FFFFu)]
    public void LeafAboveItsRangeMaximum_IsAnsweredAsTheMaxBasicLeaf(uint leaf)
    {
        var h = new ModuleHarness();
        TdEntered max = Emulated(h, 0, 0x21);
        TdEntered e = Emulated(h, 0, leaf);
        Assert.Equal(max.Regs, e.Regs);
    }

    [Theory]
    [InlineData(0u)]
    [InlineData(1u)]
    [InlineData(2u)]
    public void Leaf7_ReportsNoExtendedFeatures(uint subleaf)
    {
        var h = new ModuleHarness();
        Assert.Equal(default(Gprs), Emulated(h, 0, 7, subleaf).Regs);
    }

    [Fact]
    public void Leaf0xB_EnumeratesX2ApicTopology()
    {
        var h = new ModuleHarness(new TdxModuleOptions { NumVcpus = 3, MaxVcpus = 8 });
        TdEntered smt = Emulated(h, 2, 0xB, 0);
        Assert.Equal(0UL, smt.Regs[Gpr.Rax]);
        Assert.Equal(1UL, smt.Regs[Gpr.Rbx]);
        Assert.Equal(0x100UL, smt.Regs[Gpr.Rcx]);
        Assert.Equal(2UL, smt.Regs[Gpr.Rdx]);
        TdEntered core = Emulated(h, 2, 0xB, 1);
        Assert.Equal(3UL, core.Regs[Gpr.Rax]);       // 8 x2APIC IDs need 3 bits
        Assert.Equal(3UL, core.Regs[Gpr.Rbx]);
        Assert.Equal(0x201UL, core.Regs[Gpr.Rcx]);
        Assert.Equal(2UL, core.Regs[Gpr.Rdx]);
        TdEntered invalid = Emulated(h, 1, 0xB, 2);
        Assert.Equal(0UL, invalid.Regs[Gpr.Rbx]);
        Assert.Equal(2UL, invalid.Regs[Gpr.Rcx]);
        Assert.Equal(1UL, invalid.Regs[Gpr.Rdx]);
    }

    [Fact]
    public void Leaf0xB_WithoutEnumTopology_InjectsVe_UntilTheGuestEnablesIt()
    {
        var h = new ModuleHarness(new TdxModuleOptions { NumVcpus = 2, EnumTopologyAtStart = false });
        Assert.Equal(TdEntryAction.VeInjected, h.Cpuid(0, 0xB).Action);
        h.Call(0, (ulong)TdcallLeaf.VpVeinfoGet);
        h.Call(0, (ulong)TdcallLeaf.VmWr, rdx: TdMetadataField.TdCtls, r8: TdCtls.EnumTopology, r9: TdCtls.EnumTopology);
        Assert.Equal(1UL, Emulated(h, 1, 0xB, 0).Regs[Gpr.Rdx]);
    }

    [Fact]
    public void ExtendedLeaves_ReportLongModeAndGpaw()
    {
        var h = new ModuleHarness();
        Assert.Equal(0x8000_0008UL, Emulated(h, 0, 0x8000_0000).Regs[Gpr.Rax]);
        TdEntered ext1 = Emulated(h, 0, 0x8000_0001);
        Assert.Equal(1UL, (ext1.Regs[Gpr.Rdx] >> 29) & 1);   // LM
        Assert.Equal(1UL, (ext1.Regs[Gpr.Rdx] >> 11) & 1);   // SYSCALL in 64-bit mode
        Assert.Equal(1UL, (ext1.Regs[Gpr.Rdx] >> 20) & 1);   // NX
        Assert.Equal(0x100UL, Emulated(h, 0, 0x8000_0007).Regs[Gpr.Rdx]);
        TdEntered sizes = Emulated(h, 0, 0x8000_0008);
        Assert.Equal((ulong)GuestPhysical.Gpaw, sizes.Regs[Gpr.Rax] & 0xFF);
        Assert.Equal(48UL, (sizes.Regs[Gpr.Rax] >> 8) & 0xFF);
    }

    [Fact]
    public void Leaf0x15_DescribesTheTscFrequency()
    {
        var h = new ModuleHarness(new TdxModuleOptions { NumVcpus = 1, TscFrequencyHz = 2_100_000_000 });
        TdEntered e = Emulated(h, 0, 0x15);
        Assert.Equal(1UL, e.Regs[Gpr.Rax]);
        Assert.Equal(84UL, e.Regs[Gpr.Rbx]);
        Assert.Equal(25_000_000UL, e.Regs[Gpr.Rcx]);
        Assert.Equal(2_100_000_000UL, e.Regs[Gpr.Rcx] * e.Regs[Gpr.Rbx] / e.Regs[Gpr.Rax]);
    }

    [Fact]
    public void UpperHalvesOfRaxAndRcx_AreIgnored()
    {
        var h = new ModuleHarness();
        TdEntered e = h.Exit(0, VeExitReason.Cpuid, ModuleHarness.Regs((Gpr.Rax, 0xFFFF_FFFF_0000_0021), (Gpr.Rcx, 0xDEAD_0000_0000_0000)), length: 2);
        Assert.Equal(TdEntryAction.Emulated, e.Action);
        Assert.Equal("Inte", Ascii(e.Regs[Gpr.Rbx]));
    }

    [Fact]
    public void CpuidVe_WhileVeInfoValid_IsDoubleFault()
    {
        var h = new ModuleHarness();
        h.Cpuid(0, 0x4000_0000);
        Assert.Equal(TdEntryAction.DoubleFaultInjected, h.Cpuid(0, 0x4000_0001).Action);

        // Emulated leaves do not touch VE info, so they still work.
        Assert.Equal(TdEntryAction.Emulated, h.Cpuid(0, 0).Action);
        Assert.Equal(3, h.Core.Counters.Exit(VeExitReason.Cpuid));
    }

    [Theory]
    [InlineData(0u, 0x3u, 576u)]
    [InlineData(1u, 0u, 0u)]
    [InlineData(2u, 0u, 0u)]
    public void LeafD_EnumeratesX87AndSseOnly(uint subleaf, uint eax, uint ebx)
    {
        var v = new TdxSim.TdxModule.Virtualization.CpuidVirtualization(new TdxModuleOptions { NumVcpus = 1 });
        Assert.True(v.TryGet(0xD, subleaf, 0, 0, out var r));
        Assert.Equal(eax, r.Eax);
        Assert.Equal(ebx, r.Ebx);
    }
}
