using System.Buffers.Binary;
using System.Security.Cryptography;
using TdxSim.Abi;
using TdxSim.Abi.Messages;
using TdxSim.TdxModule.Attestation;
using TdxSim.TdxModule.Memory;
using TdxSim.TdxModule.Tests.Support;

namespace TdxSim.TdxModule.Tests;

/// <summary>TDG.MR.REPORT: TDREPORT layout, MAC, operand checks (reference 1.3).</summary>
public sealed class MrReportTests
{
    private const ulong Leaf = (ulong)TdcallLeaf.MrReport;
    private const ulong ReportGpa = 0x1_0000;
    private const ulong DataGpa = 0x2_0040;

    private static readonly byte[] Key = Enumerable.Range(1, 32).Select(i => (byte)i).ToArray();
    private static readonly byte[] Mrtd = Enumerable.Range(0, 48).Select(i => (byte)(0xA0 + i)).ToArray();

    private static TdxModuleOptions Options(ulong attributes = TdAttributes.SeptVeDisable) => new()
    {
        NumVcpus = 2,
        Attributes = attributes,
        Xfam = 0xE7,
        Mrtd = Mrtd,
        MrOwner = Enumerable.Repeat((byte)0x0E, 48).ToArray(),
        ReportMacKey = Key,
    };

    private static byte[] ReportData() => Enumerable.Range(0, 64).Select(i => (byte)(i * 3)).ToArray();

    [Fact]
    public void Report_HasTheTdreportLayout()
    {
        var h = new ModuleHarness(Options());
        h.Memory.WritePrivateRaw(DataGpa, ReportData());
        byte[] extension = Enumerable.Repeat((byte)0x42, 48).ToArray();
        h.Memory.WritePrivateRaw(0x3000, extension);
        Assert.Equal(TdxStatus.Success, h.Call(0, (ulong)TdcallLeaf.MrRtmrExtend, rcx: 0x3000, rdx: 2).CompletionStatus);

        TdcallCompleted c = h.Call(1, Leaf, rcx: ReportGpa, rdx: DataGpa);
        Assert.Equal(TdxStatus.Success, c.CompletionStatus);
        Assert.Equal(GprMask.Rax, c.WrittenRegisters);
        byte[] report = h.Memory.PrivateBytes(ReportGpa, TdReportLayout.Size);

        Assert.Equal(0x81, report[0]);
        Assert.Equal(0, report[1]);
        Assert.Equal(ReportData(), report.AsSpan(128, 64).ToArray());
        Assert.Equal(TdAttributes.SeptVeDisable, BinaryPrimitives.ReadUInt64LittleEndian(report.AsSpan(512)));
        Assert.Equal(0xE7UL, BinaryPrimitives.ReadUInt64LittleEndian(report.AsSpan(520)));
        Assert.Equal(Mrtd, report.AsSpan(528, 48).ToArray());
        Assert.All(report.AsSpan(576, 48).ToArray(), b => Assert.Equal(0, b));
        Assert.All(report.AsSpan(624, 48).ToArray(), b => Assert.Equal(0x0E, b));

        // RTMR0, 1, 3 untouched; RTMR2 = SHA-384(zeros || extension).
        byte[] rtmr2 = SHA384.HashData(new byte[48].Concat(extension).ToArray());
        Assert.All(report.AsSpan(720, 96).ToArray(), b => Assert.Equal(0, b));
        Assert.Equal(rtmr2, report.AsSpan(816, 48).ToArray());
        Assert.All(report.AsSpan(864, 48).ToArray(), b => Assert.Equal(0, b));

        // TEE_TCB_INFO_HASH and TEE_INFO_HASH bind the rest; the MAC covers REPORTMACSTRUCT up to the MAC.
        Assert.Equal(SHA384.HashData(report.AsSpan(256, 239)), report.AsSpan(32, 48).ToArray());
        Assert.Equal(SHA384.HashData(report.AsSpan(512, 512)), report.AsSpan(80, 48).ToArray());
        Assert.Equal(HMACSHA256.HashData(Key, report.AsSpan(0, 224)), report.AsSpan(224, 32).ToArray());
        Assert.True(h.Core.VerifyReportMac(report));
        // TDINFO is bound through TEE_INFO_HASH (inside the MAC'd part), not by the MAC directly.
        report[600] ^= 1;
        Assert.True(h.Core.VerifyReportMac(report));
        Assert.NotEqual(SHA384.HashData(report.AsSpan(512, 512)), report.AsSpan(80, 48).ToArray());
        report[100] ^= 1;
        Assert.False(h.Core.VerifyReportMac(report));
    }

    [Fact]
    public void Report_AcceptsSharedGpas()
    {
        var h = new ModuleHarness(Options());
        const ulong sharedData = GuestPhysical.SharedBit | 0x4_0000;
        const ulong sharedReport = GuestPhysical.SharedBit | 0x5_0000;
        h.Memory.MakeShared(sharedData);
        h.Memory.MakeShared(sharedReport);
        h.Memory.WriteSharedRaw(sharedData, ReportData());
        Assert.Equal(TdxStatus.Success, h.Call(0, Leaf, rcx: sharedReport, rdx: sharedData).CompletionStatus);
        byte[] report = h.Memory.SharedBytes(sharedReport, TdReportLayout.Size);
        Assert.Equal(0x81, report[0]);
        Assert.Equal(ReportData(), report.AsSpan(128, 64).ToArray());
        Assert.True(h.Core.VerifyReportMac(report));
    }

    [Theory]
    [InlineData(ReportGpa + 64, DataGpa, 0UL, 0xC000_0100_0000_0001UL)]
    [InlineData(ReportGpa + 512, DataGpa, 0UL, 0xC000_0100_0000_0001UL)]
    [InlineData(ReportGpa + 1, DataGpa + 1, 1UL, 0xC000_0100_0000_0001UL)]      // RCX is checked first
    [InlineData(ReportGpa, DataGpa + 8, 0UL, 0xC000_0100_0000_0002UL)]
    [InlineData(ReportGpa, DataGpa + 32, 1UL, 0xC000_0100_0000_0002UL)]         // RDX before R8
    [InlineData(ReportGpa, (1UL << 48) | 0x40, 0UL, 0xC000_0100_0000_0002UL)]   // REPORTDATA beyond GPAW
    [InlineData(ReportGpa, DataGpa, 1UL, 0xC000_0100_0000_0008UL)]
    [InlineData(ReportGpa, DataGpa, 0x100UL, 0xC000_0100_0000_0008UL)]
    [InlineData((1UL << 48) | 0x400, DataGpa, 1UL, 0xC000_0100_0000_0008UL)]    // R8 before the RCX GPA
    [InlineData((1UL << 48) | 0x400, DataGpa, 0UL, 0xC000_0100_0000_0001UL)]    // TDREPORT beyond GPAW
    public void BadOperand_IsOperandInvalidWithItsOperandId(ulong rcx, ulong rdx, ulong r8, ulong expected)
    {
        var h = new ModuleHarness(Options());
        h.Memory.Fill(ReportGpa, 0xEE, TdReportLayout.Size);
        TdcallCompleted c = h.Call(0, Leaf, rcx: rcx, rdx: rdx, r8: r8);
        Assert.Equal(expected, c.CompletionStatus);
        Assert.Equal(GprMask.Rax, c.WrittenRegisters);
        Assert.All(h.Memory.PrivateBytes(ReportGpa, TdReportLayout.Size), b => Assert.Equal(0xEE, b));
    }

    [Fact]
    public void PendingReportData_InjectsEptViolationVe_AndLeavesTheTdcallUnretired()
    {
        var h = new ModuleHarness(Options(attributes: 0));
        h.Memory.SetState(DataGpa & ~0xFFFUL, TdPageState.Pending);
        TdcallOutcome outcome = h.Outcome(0, Leaf, rcx: ReportGpa, rdx: DataGpa);
        Assert.Equal(TdcallOutcomeKind.Faulted, outcome.Kind);
        Assert.Equal(TdEntryAction.VeInjected, outcome.Fault!.Action);
        Assert.Equal(VeExitReason.EptViolation, outcome.Fault.Exit.ExitReason);
        Assert.Equal(DataGpa, outcome.Fault.Exit.Gpa);
        Assert.Equal(EptQualification.Read, outcome.Fault.Exit.ExitQualification);

        TdcallCompleted info = h.Call(0, (ulong)TdcallLeaf.VpVeinfoGet);
        Assert.Equal(48UL, info.Regs[Gpr.Rcx]);
        Assert.Equal(DataGpa, info.Regs[Gpr.R9]);
    }

    [Fact]
    public void PendingReportData_WithPendingVeDisable_KillsTheTd()
    {
        var h = new ModuleHarness(Options(attributes: TdAttributes.SeptVeDisable));
        h.Memory.SetState(DataGpa & ~0xFFFUL, TdPageState.Pending);
        Assert.Equal(TdEntryAction.TdKilled, h.Outcome(0, Leaf, rcx: ReportGpa, rdx: DataGpa).Fault!.Action);
        Assert.True(h.Core.IsTdKilled);
    }

    [Fact]
    public void SharedReportDataWithoutPage_InjectsVe()
    {
        var h = new ModuleHarness(Options());
        TdcallOutcome outcome = h.Outcome(0, Leaf, rcx: ReportGpa, rdx: GuestPhysical.SharedBit | DataGpa);
        Assert.Equal(TdEntryAction.VeInjected, outcome.Fault!.Action);
        Assert.Equal(GuestPhysical.SharedBit | DataGpa, outcome.Fault.Exit.Gpa);
        Assert.False(h.Core.IsTdKilled);
    }

    [Fact]
    public void ReportBeyondPrivateMemory_KillsTheTd_WithAWriteQualification()
    {
        var h = new ModuleHarness(Options());
        TdcallOutcome outcome = h.Outcome(0, Leaf, rcx: ModuleHarness.DefaultMemory, rdx: DataGpa);
        Assert.Equal(TdEntryAction.TdKilled, outcome.Fault!.Action);
        Assert.Equal(EptQualification.Write, outcome.Fault.Exit.ExitQualification);
    }

    [Fact]
    public void DerivedMacKey_IsReproducibleFromTheSeed_AndDiffersAcrossSeeds()
    {
        byte[] ReportFor(ulong seed)
        {
            var h = new ModuleHarness(new TdxModuleOptions { NumVcpus = 1, Seed = seed, Mrtd = Mrtd });
            h.Call(0, Leaf, rcx: ReportGpa, rdx: DataGpa);
            return h.Memory.PrivateBytes(ReportGpa, TdReportLayout.Size);
        }

        Assert.Equal(ReportFor(7), ReportFor(7));
        Assert.NotEqual(ReportFor(7).AsSpan(224, 32).ToArray(), ReportFor(8).AsSpan(224, 32).ToArray());
        Assert.Equal(ReportFor(7).AsSpan(0, 224).ToArray(), ReportFor(8).AsSpan(0, 224).ToArray());
    }
}
