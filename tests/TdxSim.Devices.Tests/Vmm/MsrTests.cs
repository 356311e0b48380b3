using TdxSim.Abi;
using TdxSim.Abi.Messages;
using TdxSim.Vmm;
using TdxSim.Vmm.Msr;

namespace TdxSim.Devices.Tests.Vmm;

public class MsrTests
{
    private const uint Icr = 0x830, MiscEnable = 0x1A0, PowerCtl = 0x1FC;

    private static TdVmcallCompleted Rdmsr(VmmBed bed, ulong index, int vcpu = 0) =>
        bed.Complete(TdVmcallSubfunction.InstructionRdmsr, index, vcpu: vcpu);

    private static TdVmcallCompleted Wrmsr(VmmBed bed, ulong index, ulong value, int vcpu = 0) =>
        bed.Complete(TdVmcallSubfunction.InstructionWrmsr, index, value, vcpu: vcpu);

    /// <summary>The selftest's filter exactly: default deny, ICR allowed, MISC_ENABLE read-only, POWER_CTL write-only.</summary>
    private static MsrTable SelftestFilter() => new(
    [
        new MsrDefinition(Icr, "IA32_X2APIC_ICR", MsrAccess.ReadWrite, MsrScope.Vcpu, 0),
        new MsrDefinition(MiscEnable, "IA32_MISC_ENABLE", MsrAccess.ReadOnly, MsrScope.Vcpu, 0x1800),
        new MsrDefinition(PowerCtl, "MSR_IA32_POWER_CTL", MsrAccess.WriteOnly, MsrScope.Vcpu, 0),
    ]);

    public static TheoryData<bool> Tables => [false, true];

    private static VmmBed Bed(bool selftestFilter) =>
        new(selftestFilter ? new VmmOptions { VcpuCount = 4, Msrs = SelftestFilter() } : null);

    [Theory]
    [MemberData(nameof(Tables))]
    public void SelftestGuestMsrWrites(bool selftestFilter)
    {
        VmmBed bed = Bed(selftestFilter);

        Assert.Equal(TdVmcall.Success, Wrmsr(bed, Icr, 4).VmcallStatus);
        Assert.Equal(TdVmcall.InvalidOperand, Wrmsr(bed, MiscEnable, 5).VmcallStatus);
        Assert.Equal(TdVmcall.Success, Wrmsr(bed, PowerCtl, 6).VmcallStatus);

        Assert.Equal(4UL, bed.Vmm.Msrs.HostRead(0, Icr));
        Assert.Equal(0x1800UL, bed.Vmm.Msrs.HostRead(0, MiscEnable));
        Assert.Equal(6UL, bed.Vmm.Msrs.HostRead(0, PowerCtl));
    }

    [Theory]
    [MemberData(nameof(Tables))]
    public void SelftestGuestMsrReads(bool selftestFilter)
    {
        VmmBed bed = Bed(selftestFilter);
        bed.Vmm.Msrs.HostWrite(0, Icr, 4);
        bed.Vmm.Msrs.HostWrite(0, MiscEnable, 5);
        bed.Vmm.Msrs.HostWrite(0, PowerCtl, 6);

        TdVmcallCompleted icr = Rdmsr(bed, Icr);
        TdVmcallCompleted misc = Rdmsr(bed, MiscEnable);
        TdVmcallCompleted power = Rdmsr(bed, PowerCtl);

        Assert.Equal((TdVmcall.Success, 4UL), (icr.VmcallStatus, icr.Regs[Gpr.R11]));
        Assert.Equal((TdVmcall.Success, 5UL), (misc.VmcallStatus, misc.Regs[Gpr.R11]));
        Assert.Equal(TdVmcall.InvalidOperand, power.VmcallStatus);
    }

    [Theory]
    [InlineData(0x10UL)]         // IA32_TIME_STAMP_COUNTER: the module's business, never the VMM's
    [InlineData(0xC000_0080UL)]  // EFER
    [InlineData(0x8FFUL)]
    [InlineData(0x1_0000_0802UL)] // index above 32 bits
    public void UnknownMsr_IsDenied(ulong index)
    {
        var bed = new VmmBed();

        Assert.Equal(TdVmcall.InvalidOperand, Rdmsr(bed, index).VmcallStatus);
        Assert.Equal(TdVmcall.InvalidOperand, Wrmsr(bed, index, 0).VmcallStatus);
    }

    [Fact]
    public void SelftestFilter_DeniesEverythingElse()
    {
        VmmBed bed = Bed(selftestFilter: true);

        Assert.Equal(TdVmcall.InvalidOperand, Rdmsr(bed, 0x802).VmcallStatus);
        Assert.Equal(TdVmcall.InvalidOperand, Rdmsr(bed, 0x1B).VmcallStatus);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(3)]
    public void X2ApicIdAndApicBase_PerVcpu(int vcpu)
    {
        var bed = new VmmBed();

        Assert.Equal((ulong)vcpu, Rdmsr(bed, 0x802, vcpu).Regs[Gpr.R11]);
        ulong apicBase = Rdmsr(bed, 0x1B, vcpu).Regs[Gpr.R11];
        Assert.Equal(0xFEE0_0000UL, apicBase & ~0xFFFUL);
        Assert.Equal(0xC00UL, apicBase & 0xC00); // enabled, x2APIC mode
        Assert.Equal(vcpu == 0, (apicBase & 0x100) != 0); // BSP
        Assert.Equal(TdVmcall.InvalidOperand, Wrmsr(bed, 0x1B, apicBase, vcpu).VmcallStatus); // read-only for TDs
    }

    [Fact]
    public void PerVcpuMsr_WritesDoNotLeakAcrossVcpus()
    {
        var bed = new VmmBed();

        Wrmsr(bed, Icr, 0x0000_0001_0000_00FE, vcpu: 1);

        Assert.Equal(0x0000_0001_0000_00FEUL, Rdmsr(bed, Icr, 1).Regs[Gpr.R11]);
        Assert.Equal(0UL, Rdmsr(bed, Icr, 0).Regs[Gpr.R11]);
    }

    [Fact]
    public void VmScopeMsr_IsSharedByAllVcpus()
    {
        var bed = new VmmBed();
        bed.Vmm.Msrs.HostWrite(2, 0x3A, 0x5);

        Assert.Equal(0x5UL, Rdmsr(bed, 0x3A, 0).Regs[Gpr.R11]);
    }

    [Theory]
    [InlineData(0x80FUL, 0x1FFUL, true)]     // SPIV: APIC enable + vector 0xFF (verify_setup_event_notify)
    [InlineData(0x80FUL, 0x1_0000_0000UL, false)]
    [InlineData(0x80FUL, 0x200UL, false)]     // bit 9 reserved in x2APIC mode
    [InlineData(0x832UL, 0x1_0000_0000UL, false)] // LVT: bits 63:32 reserved
    [InlineData(0x80BUL, 0UL, true)]          // EOI: only 0
    [InlineData(0x80BUL, 1UL, false)]
    [InlineData(0x830UL, 0x1000UL, false)]    // ICR bit 12 reserved in x2APIC mode
    public void ReservedBits_RejectTheWrite(ulong index, ulong value, bool accepted)
    {
        var bed = new VmmBed();

        Assert.Equal(accepted ? TdVmcall.Success : TdVmcall.InvalidOperand, Wrmsr(bed, index, value).VmcallStatus);
    }

    [Fact]
    public void WriteOnlyX2ApicRegisters_CannotBeRead()
    {
        var bed = new VmmBed();

        Assert.Equal(TdVmcall.InvalidOperand, Rdmsr(bed, 0x80B).VmcallStatus);
        Assert.Equal(TdVmcall.InvalidOperand, Rdmsr(bed, 0x83F).VmcallStatus);
    }

    [Fact]
    public void Table_DuplicateIndex_Throws()
    {
        Assert.Throws<ArgumentException>(() => new MsrTable(
        [
            new MsrDefinition(1, "A", MsrAccess.ReadWrite, MsrScope.Vm, 0),
            new MsrDefinition(1, "B", MsrAccess.ReadOnly, MsrScope.Vm, 0),
        ]));
    }

    [Fact]
    public void HostAccess_UnknownMsr_Throws()
    {
        var bed = new VmmBed();

        var e = Assert.Throws<ArgumentException>(() => bed.Vmm.Msrs.HostRead(0, 0x10));
        Assert.Contains("0x10", e.Message, StringComparison.Ordinal);
    }
}
