using TdxSim.Abi;
using TdxSim.Abi.Messages;
using TdxSim.TdxModule.Memory;
using TdxSim.TdxModule.Tests.Support;

namespace TdxSim.TdxModule.Tests;

/// <summary>TDG.VM.RD / TDG.VM.WR on the TD-scope fields Linux uses (reference 1.3, 4.4).</summary>
public sealed class MetadataTests
{
    private const ulong Rd = (ulong)TdcallLeaf.VmRd;
    private const ulong Rd1 = Rd | (1UL << 16);
    private const ulong Wr = (ulong)TdcallLeaf.VmWr;
    private const ulong FieldIdIncorrect = 0xC000_0C00_0000_0000;
    private const ulong NotWritable = 0xC000_0C01_0000_0000;
    private const ulong ValueNotValid = 0xC000_0C03_0000_0000;

    private static TdxModuleOptions Flexible(ulong attributes = 0, bool topology = true) => new()
    {
        NumVcpus = 2,
        Attributes = attributes,
        ConfigFlags = TdConfigFlags.NoRbpMod | TdConfigFlags.FlexiblePendingVe,
        TopologyEnumConfigured = topology,
        EnumTopologyAtStart = false,
    };

    [Theory]
    [InlineData(TdMetadataField.ConfigFlags, TdConfigFlags.NoRbpMod)]
    [InlineData(TdMetadataField.TdCtls, TdCtls.PendingVeDisable | TdCtls.EnumTopology)]
    [InlineData(TdMetadataField.NotifyEnables, 0UL)]
    [InlineData(TdMetadataField.TopologyEnumConfigured, 1UL)]
    [InlineData(0x9110_0003_0000_0010UL, 0UL)]                    // NOTIFY_ENABLES with the context and size bits
    [InlineData(0x9110_0000_0000_0019UL, 1UL)]
    [InlineData(0x1100_0000_0000_0016UL, TdConfigFlags.NoRbpMod)] // CONFIG_FLAGS without them
    [InlineData(0x1118_0003_0000_0017UL, TdCtls.PendingVeDisable | TdCtls.EnumTopology)] // WRITE_MASK_VALID ignored
    [InlineData(0x1134_0002_0000_0016UL, TdConfigFlags.NoRbpMod)] // INC_SIZE, other context and size ignored
    public void Read_ReturnsTheFieldInR8(ulong field, ulong expected)
    {
        var h = new ModuleHarness();
        TdcallCompleted c = h.Call(0, Rd, rdx: field);
        Assert.Equal(TdxStatus.Success, c.CompletionStatus);
        Assert.Equal(expected, c.Regs[Gpr.R8]);
        Assert.Equal(GprMask.Rax | GprMask.R8, c.WrittenRegisters);
    }

    [Theory]
    [InlineData(0x1110_0003_0000_0015UL)]            // no such field code
    [InlineData(0x1210_0003_0000_0016UL)]            // other class
    [InlineData(0x9110_0003_0000_0016UL)]            // CONFIG_FLAGS with NON_ARCH
    [InlineData(0x1110_0003_0100_0016UL)]            // reserved bit 24
    [InlineData(0x1110_0007_0000_0016UL)]            // LAST_ELEMENT_IN_FIELD
    [InlineData(0x1110_0043_0000_0016UL)]            // LAST_FIELD_IN_SEQUENCE
    [InlineData(0x1110_8003_0000_0016UL)]            // reserved bit 47
    [InlineData(0x1190_0003_0000_0016UL)]            // reserved bit 55
    [InlineData(0x5110_0003_0000_0016UL)]            // reserved bit 62
    [InlineData(0UL)]
    public void Read_OfUnknownOrMalformedField_IsFieldIdIncorrect(ulong field)
    {
        var h = new ModuleHarness();
        TdcallCompleted c = h.Call(0, Rd, rdx: field, r8: 0x1234);
        Assert.Equal(FieldIdIncorrect, c.CompletionStatus);
        Assert.Equal(0UL, c.Regs[Gpr.R8]);
        Assert.Equal(FieldIdIncorrect, h.Call(0, Wr, rdx: field, r8: 0, r9: ulong.MaxValue).CompletionStatus);
    }

    [Theory]
    [InlineData(Rd)]
    [InlineData(Rd1)]
    [InlineData(Wr)]
    public void NonZeroVmIndex_IsOperandInvalidRcx(ulong rax)
    {
        var h = new ModuleHarness();
        Assert.Equal(0xC000_0100_0000_0001UL, h.Call(0, rax, rcx: 1, rdx: TdMetadataField.NotifyEnables, r9: 1).CompletionStatus);
    }

    [Fact]
    public void ReadVersion1_ReturnsTheNextFieldIdInRdx()
    {
        var h = new ModuleHarness();
        ReadOnlySpan<Metadata.TdMetadataFieldInfo> fields = TdxModuleCore.MetadataFields;
        for (int i = 0; i < fields.Length; i++)
        {
            TdcallCompleted c = h.Call(0, Rd1, rdx: fields[i].Id);
            Assert.Equal(TdxStatus.Success, c.CompletionStatus);
            Assert.Equal(GprMask.Rax | GprMask.Rdx | GprMask.R8, c.WrittenRegisters);
            Assert.Equal(i + 1 < fields.Length ? fields[i + 1].Id : ulong.MaxValue, c.Regs[Gpr.Rdx]);
        }
    }

    [Fact]
    public void ReadVersion1_WithNullFieldId_ReturnsTheFirstFieldId()
    {
        var h = new ModuleHarness();
        TdcallCompleted c = h.Call(0, Rd1, rdx: ulong.MaxValue & ~0x0070_0000_0000_0000UL);
        Assert.Equal(0x0000_0C0B_0000_0000UL, c.CompletionStatus);
        Assert.False(TdxStatus.IsError(c.CompletionStatus));
        Assert.Equal(TdxModuleCore.MetadataFields[0].Id, c.Regs[Gpr.Rdx]);
        Assert.Equal(0UL, c.Regs[Gpr.R8]);
        Assert.Equal("TDX_METADATA_FIRST_FIELD_ID_IN_CONTEXT", TdxStatus.Name(c.CompletionStatus));
    }

    [Fact]
    public void ReadVersion1_Error_SetsRdxToNotAvailable()
    {
        var h = new ModuleHarness();
        TdcallCompleted c = h.Call(0, Rd1, rdx: 0x1110_0003_0000_0001);
        Assert.Equal(FieldIdIncorrect, c.CompletionStatus);
        Assert.Equal(ulong.MaxValue, c.Regs[Gpr.Rdx]);
    }

    [Fact]
    public void LinuxNotifyEnablesWrite_ZeroWithAllOnesMask_Succeeds()
    {
        var h = new ModuleHarness();
        TdcallCompleted c = h.Call(0, Wr, rdx: TdMetadataField.NotifyEnables, r8: 0, r9: ulong.MaxValue);
        Assert.Equal(TdxStatus.Success, c.CompletionStatus);
        Assert.Equal(GprMask.Rax | GprMask.R8, c.WrittenRegisters);
        Assert.Equal(0UL, c.Regs[Gpr.R8]);
    }

    [Fact]
    public void Write_ReturnsTheOldValue_AndUpdatesOnlyMaskedBits()
    {
        var h = new ModuleHarness();
        Assert.Equal(0UL, h.Call(0, Wr, rdx: TdMetadataField.NotifyEnables, r8: 1, r9: 1).Regs[Gpr.R8]);
        Assert.Equal(1UL, h.Call(1, Rd, rdx: TdMetadataField.NotifyEnables).Regs[Gpr.R8]);

        // Mask 0 on the writable bit: nothing to write.
        Assert.Equal(NotWritable, h.Call(0, Wr, rdx: TdMetadataField.NotifyEnables, r8: 0, r9: 2).CompletionStatus);

        // A masked non-writable bit that would change: the value is not valid, and nothing changes.
        TdcallCompleted bad = h.Call(0, Wr, rdx: TdMetadataField.NotifyEnables, r8: 2, r9: 3);
        Assert.Equal(ValueNotValid, bad.CompletionStatus);
        Assert.Equal(0UL, bad.Regs[Gpr.R8]);
        Assert.Equal(1UL, h.Call(0, Rd, rdx: TdMetadataField.NotifyEnables).Regs[Gpr.R8]);
        Assert.Equal(1UL, h.Call(0, Wr, rdx: TdMetadataField.NotifyEnables, r8: 0, r9: ulong.MaxValue).Regs[Gpr.R8]);
    }

    [Theory]
    [InlineData(TdMetadataField.ConfigFlags)]
    [InlineData(TdMetadataField.TopologyEnumConfigured)]
    public void Write_OfReadOnlyField_IsNotWritable(ulong field)
    {
        var h = new ModuleHarness();
        Assert.Equal(NotWritable, h.Call(0, Wr, rdx: field, r8: 0, r9: ulong.MaxValue).CompletionStatus);
    }

    [Fact]
    public void PendingVeDisable_IsWritableWithFlexiblePendingVe()
    {
        var h = new ModuleHarness(Flexible(attributes: 0));
        Assert.False(h.Core.PendingVeDisabled);

        // Linux disable_sept_ve(): CONFIG_FLAGS has FLEXIBLE_PENDING_VE, so set TD_CTLS.PENDING_VE_DISABLE.
        Assert.NotEqual(0UL, h.Call(0, Rd, rdx: TdMetadataField.ConfigFlags).Regs[Gpr.R8] & TdConfigFlags.FlexiblePendingVe);
        TdcallCompleted c = h.Call(0, Wr, rdx: TdMetadataField.TdCtls, r8: TdCtls.PendingVeDisable, r9: TdCtls.PendingVeDisable);
        Assert.Equal(TdxStatus.Success, c.CompletionStatus);
        Assert.Equal(0UL, c.Regs[Gpr.R8]);
        Assert.True(h.Core.PendingVeDisabled);
        Assert.Equal(TdCtls.PendingVeDisable, h.Call(1, Rd, rdx: TdMetadataField.TdCtls).Regs[Gpr.R8]);

        // And clear it again.
        Assert.Equal(TdxStatus.Success, h.Call(0, Wr, rdx: TdMetadataField.TdCtls, r8: 0, r9: TdCtls.PendingVeDisable).CompletionStatus);
        Assert.False(h.Core.PendingVeDisabled);
    }

    [Theory]
    [InlineData(0UL, TdCtls.PendingVeDisable)]
    [InlineData(TdAttributes.SeptVeDisable, 0UL)]
    public void PendingVeDisable_ChangeWithoutFlexiblePendingVe_IsValueNotValid(ulong attributes, ulong value)
    {
        var h = new ModuleHarness(new TdxModuleOptions { NumVcpus = 1, Attributes = attributes });
        bool before = h.Core.PendingVeDisabled;
        Assert.Equal(ValueNotValid, h.Call(0, Wr, rdx: TdMetadataField.TdCtls, r8: value, r9: TdCtls.PendingVeDisable).CompletionStatus);
        Assert.Equal(before, h.Core.PendingVeDisabled);

        // Writing the value it already has is no change, so it is allowed.
        ulong same = before ? TdCtls.PendingVeDisable : 0;
        Assert.Equal(TdxStatus.Success, h.Call(0, Wr, rdx: TdMetadataField.TdCtls, r8: same, r9: TdCtls.PendingVeDisable).CompletionStatus);
    }

    [Fact]
    public void ReduceVe_IsNotSupported_SoLinuxFallsBackToEnumTopology()
    {
        var h = new ModuleHarness(Flexible());
        // REDUCE_VE is outside the guest write mask: nothing writable in the request.
        Assert.Equal(NotWritable, h.Call(0, Wr, rdx: TdMetadataField.TdCtls, r8: TdCtls.ReduceVe, r9: TdCtls.ReduceVe).CompletionStatus);

        // Together with a writable bit, the unsupported bit may not change.
        Assert.Equal(ValueNotValid, h.Call(0, Wr, rdx: TdMetadataField.TdCtls, r8: TdCtls.ReduceVe | TdCtls.EnumTopology, r9: ulong.MaxValue).CompletionStatus);
        Assert.Equal(1UL, h.Call(0, Rd, rdx: TdMetadataField.TopologyEnumConfigured).Regs[Gpr.R8]);
        Assert.Equal(TdxStatus.Success, h.Call(0, Wr, rdx: TdMetadataField.TdCtls, r8: TdCtls.EnumTopology, r9: TdCtls.EnumTopology).CompletionStatus);
        Assert.Equal(TdCtls.EnumTopology, h.Core.TdCtlsValue);
    }

    [Fact]
    public void EnumTopology_WithoutConfiguredTopology_IsValueNotValid()
    {
        var h = new ModuleHarness(Flexible(topology: false));
        Assert.Equal(0UL, h.Call(0, Rd, rdx: TdMetadataField.TopologyEnumConfigured).Regs[Gpr.R8]);
        Assert.Equal(ValueNotValid, h.Call(0, Wr, rdx: TdMetadataField.TdCtls, r8: TdCtls.EnumTopology, r9: TdCtls.EnumTopology).CompletionStatus);
        Assert.Equal(0UL, h.Core.TdCtlsValue);
    }

    [Fact]
    public void GuestSetPendingVeDisable_MakesPendingAccessKillTheTd()
    {
        var h = new ModuleHarness(Flexible(attributes: 0), initial: TdPageState.Pending);
        Assert.Equal(TdEntryAction.VeInjected, h.Exit(0, VeExitReason.EptViolation, gpa: 0x1000, qualification: EptQualification.Read).Action);
        h.Call(0, (ulong)TdcallLeaf.VpVeinfoGet);
        h.Call(0, Wr, rdx: TdMetadataField.TdCtls, r8: TdCtls.PendingVeDisable, r9: TdCtls.PendingVeDisable);
        Assert.Equal(TdEntryAction.TdKilled, h.Exit(1, VeExitReason.EptViolation, gpa: 0x2000, qualification: EptQualification.Read).Action);
    }
}
