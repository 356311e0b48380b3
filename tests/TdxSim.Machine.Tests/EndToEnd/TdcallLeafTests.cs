using System.Security.Cryptography;
using Iced.Intel;
using TdxSim.Abi;
using TdxSim.Machine.Tests.Guests;
using static Iced.Intel.AssemblerRegisters;

namespace TdxSim.Machine.Tests.EndToEnd;

/// <summary>
/// Every TDCALL leaf a guest can reach, executed by guest code (the paravirt path), with its success and error
/// statuses as the guest sees them in RAX (reference 1).
/// </summary>
public sealed class TdcallLeafTests
{
    private const ulong Data = GuestAsm.DataPage;              // 64-aligned inputs
    private const ulong ReportData = GuestAsm.DataPage + 0x400; // 64-byte REPORTDATA
    private const ulong Report = GuestAsm.DataPage + 0x1000;    // 1024-byte TDREPORT

    private static ulong OperandInvalid(Gpr operand) => TdxStatus.WithOperand(TdxStatus.OperandInvalid, operand);

    /// <summary>TDCALL with RAX..R9 as given; reports RAX (and R8 when asked).</summary>
    private static void Leaf(Assembler a, ulong raxValue, ulong rcxValue = 0, ulong rdxValue = 0, ulong r8Value = 0, ulong r9Value = 0, bool reportR8 = false)
    {
        a.mov(rcx, rcxValue);
        a.mov(rdx, rdxValue);
        a.mov(r8, r8Value);
        a.mov(r9, r9Value);
        a.mov(rax, raxValue);
        a.tdcall();
        a.Report64(rax);
        if (reportR8)
        {
            a.Report64(r8);
        }
    }

    private static TdRun RunLeaves(Action<Assembler> body, Func<Machine.Scenarios.Scenario, Machine.Scenarios.Scenario>? configure = null)
        => TdRunner.Run(
            b =>
            {
                body(b.Asm);
                b.Asm.Success();
            },
            configure).AssertExit(0);

    [Fact]
    public void VpInfo_ReturnsGpawAttributesVcpuCountsAndIndex()
    {
        TdRun run = RunLeaves(a =>
        {
            foreach (AssemblerRegister64 r in new[] { rcx, rdx, r8, r9, r10, r11 })
            {
                a.mov(r, ulong.MaxValue);
            }

            a.mov(eax, (uint)TdcallLeaf.VpInfo);
            a.tdcall();
            foreach (AssemblerRegister64 r in new[] { rax, rcx, rdx, r8, r9, r10, r11 })
            {
                a.Report64(r);
            }
        });

        Assert.Equal([TdxStatus.Success, 48UL, 0, 1UL | (1UL << 32), 0, 0, 0], run.Reports64);
        Assert.Equal(1, run.Counter("tdx_module.tdcall.TDG.VP.INFO"));
    }

    [Fact]
    public void VeinfoGet_WithNoVePending_ReturnsNoValidVeInfo_AndVersionAboveOneIsAnInvalidRax()
    {
        TdRun run = RunLeaves(a =>
        {
            Leaf(a, (ulong)TdcallLeaf.VpVeinfoGet);
            Leaf(a, (1UL << 16) | (ulong)TdcallLeaf.VpVeinfoGet);
            Leaf(a, (2UL << 16) | (ulong)TdcallLeaf.VpVeinfoGet);
        });

        Assert.Equal([TdxStatus.NoValidVeInfo, TdxStatus.NoValidVeInfo, OperandInvalid(Gpr.Rax)], run.Reports64);
    }

    [Fact]
    public void UnknownLeafReservedRaxBitsAndUnmodelledLeaves_ReturnOperandInvalidForRax()
    {
        TdRun run = RunLeaves(a =>
        {
            Leaf(a, 99);                                          // no such leaf
            Leaf(a, (1UL << 24) | (ulong)TdcallLeaf.VpInfo);      // RAX bits 63:24 reserved
            Leaf(a, (1UL << 16) | (ulong)TdcallLeaf.VpInfo);      // version 1 exists only for VM.RD and VEINFO.GET
            Leaf(a, (ulong)TdcallLeaf.VpRd);                      // not modelled
            Leaf(a, (ulong)TdcallLeaf.VpCpuidveSet);              // not modelled
        });

        Assert.All(run.Reports64, status => Assert.Equal(OperandInvalid(Gpr.Rax), status));
        Assert.Equal(5, run.Reports64.Count);
    }

    [Fact]
    public void RtmrExtendThenMrReport_TheReportCarriesTheExtendedRtmrReportDataAndType()
    {
        byte[] extension = Enumerable.Repeat((byte)0x5A, 48).ToArray();
        TdRun run = RunLeaves(a =>
        {
            a.mov(rdi, Data);
            a.mov(rax, 0x5A5A_5A5A_5A5A_5A5AUL);
            a.mov(ecx, 6);
            a.rep.stosq();
            a.mov(rdi, ReportData);
            a.mov(rax, 0x1111_2222_3333_4444UL);
            a.mov(ecx, 8);
            a.rep.stosq();

            Leaf(a, (ulong)TdcallLeaf.MrRtmrExtend, Data, 2);
            Leaf(a, (ulong)TdcallLeaf.MrReport, Report, ReportData, 0);
            a.mov(rsi, Report);
            a.movzx(eax, __byte_ptr[rsi]);       // REPORTTYPE.TYPE
            a.Report64(rax);
            a.mov(rax, __qword_ptr[rsi + 128]);  // REPORTDATA
            a.Report64(rax);
            a.mov(rax, __qword_ptr[rsi + 512]);  // ATTRIBUTES
            a.Report64(rax);
            for (int i = 0; i < 6; i++)
            {
                a.mov(rax, __qword_ptr[rsi + 816 + (i * 8)]); // RTMR2
                a.Report64(rax);
            }

            a.mov(rax, __qword_ptr[rsi + 720]);  // RTMR0: never extended
            a.Report64(rax);
        });

        byte[] rtmr2 = SHA384.HashData(new byte[48].Concat(extension).ToArray());
        IReadOnlyList<ulong> r = run.Reports64;
        Assert.Equal([TdxStatus.Success, TdxStatus.Success, 0x81UL, 0x1111_2222_3333_4444UL, 0], r.Take(5));
        Assert.Equal(Enumerable.Range(0, 6).Select(i => BitConverter.ToUInt64(rtmr2, i * 8)), r.Skip(5).Take(6));
        Assert.Equal(0UL, r[11]);
    }

    [Fact]
    public void MrReportAndRtmrExtend_BadOperands_NameTheOperandInTheStatus()
    {
        TdRun run = RunLeaves(a =>
        {
            Leaf(a, (ulong)TdcallLeaf.MrReport, Report + 8, ReportData, 0);  // TDREPORT not 1024-aligned
            Leaf(a, (ulong)TdcallLeaf.MrReport, Report, ReportData + 8, 0);  // REPORTDATA not 64-aligned
            Leaf(a, (ulong)TdcallLeaf.MrReport, Report, ReportData, 1);      // subtype must be 0
            Leaf(a, (ulong)TdcallLeaf.MrRtmrExtend, Data, 4);                // RTMR index 0..3
            Leaf(a, (ulong)TdcallLeaf.MrRtmrExtend, Data + 8, 0);            // not 64-aligned
            Leaf(a, (ulong)TdcallLeaf.MrRtmrExtend, GuestAsm.SharedBit | Data, 0); // private only
        });

        Assert.Equal(
            [
                OperandInvalid(Gpr.Rcx), OperandInvalid(Gpr.Rdx), OperandInvalid(Gpr.R8),
                OperandInvalid(Gpr.Rdx), OperandInvalid(Gpr.Rcx), OperandInvalid(Gpr.Rcx),
            ],
            run.Reports64);
    }

    [Fact]
    public void MemPageAccept_AcceptedPagesWarnAndBadPageInfoIsAnInvalidRcx()
    {
        TdRun run = RunLeaves(a =>
        {
            Leaf(a, (ulong)TdcallLeaf.MemPageAccept, Data);                        // 4 KiB, already accepted
            Leaf(a, (ulong)TdcallLeaf.MemPageAccept, 0x40_0000 | 1);               // 2 MiB, already accepted
            Leaf(a, (ulong)TdcallLeaf.MemPageAccept, Data | 2);                    // level 2 (1 GiB) unsupported
            Leaf(a, (ulong)TdcallLeaf.MemPageAccept, GuestAsm.SharedBit | Data);   // shared GPA
            Leaf(a, (ulong)TdcallLeaf.MemPageAccept, Data | 0x8);                  // reserved bits 11:3
            Leaf(a, (ulong)TdcallLeaf.MemPageAccept, Data | 0x1000 | 1);           // 2 MiB level, 4 KiB aligned
        });

        Assert.Equal(
            [
                TdxStatus.PageAlreadyAccepted, TdxStatus.PageAlreadyAccepted + 1,
                OperandInvalid(Gpr.Rcx), OperandInvalid(Gpr.Rcx), OperandInvalid(Gpr.Rcx), OperandInvalid(Gpr.Rcx),
            ],
            run.Reports64);
    }

    [Fact]
    public void MemPageAccept_OfAGpaWithNoPrivatePage_KillsTheTd()
    {
        TdRun run = TdRunner.Run(b =>
        {
            Leaf(b.Asm, (ulong)TdcallLeaf.MemPageAccept, 0x4000_0000);   // beyond the 16M of private memory
            b.Asm.Success();
        }).AssertExit(4, "guest-fatal");

        Assert.Contains("the TD was killed on EPT_VIOLATION at GPA 0x40000000", run.Result.Detail, StringComparison.Ordinal);
        Assert.Empty(run.Reports);
    }

    [Fact]
    public void VmRdAndVmWr_ReadTheTdsMetadataAndEnforceWhatAGuestMayChange()
    {
        const ulong notWritable = 0xC000_0C01_0000_0000;
        const ulong valueNotValid = 0xC000_0C03_0000_0000;
        TdRun run = RunLeaves(a =>
        {
            Leaf(a, (ulong)TdcallLeaf.VmRd, 0, TdMetadataField.ConfigFlags, reportR8: true);
            Leaf(a, (ulong)TdcallLeaf.VmRd, 0, TdMetadataField.TdCtls, reportR8: true);
            Leaf(a, (ulong)TdcallLeaf.VmRd, 0, 0x1110_0003_0000_0099, reportR8: true);        // no such field
            Leaf(a, (ulong)TdcallLeaf.VmRd, 1, TdMetadataField.TdCtls, reportR8: true);       // RCX must be 0
            Leaf(a, (ulong)TdcallLeaf.VmWr, 0, TdMetadataField.NotifyEnables, 0, ulong.MaxValue); // Linux's boot write
            Leaf(a, (ulong)TdcallLeaf.VmWr, 0, TdMetadataField.ConfigFlags, 0, ulong.MaxValue);
            Leaf(a, (ulong)TdcallLeaf.VmWr, 0, TdMetadataField.TdCtls, TdCtls.PendingVeDisable, TdCtls.PendingVeDisable);
        });

        Assert.Equal(
            [
                TdxStatus.Success, TdConfigFlags.NoRbpMod,
                TdxStatus.Success, TdCtls.EnumTopology,
                TdxStatus.MetadataFieldIdIncorrect, 0,
                OperandInvalid(Gpr.Rcx), 0,
                TdxStatus.Success, notWritable, valueNotValid,
            ],
            run.Reports64);
    }

    [Fact]
    public void VmRd_TdCtls_StartsWithPendingVeDisableWhenTheTdHasSeptVeDisable()
    {
        TdRun run = RunLeaves(
            a => Leaf(a, (ulong)TdcallLeaf.VmRd, 0, TdMetadataField.TdCtls, reportR8: true),
            s => s with { TdAttributes = TdAttributes.SeptVeDisable });

        Assert.Equal([TdxStatus.Success, TdCtls.EnumTopology | TdCtls.PendingVeDisable], run.Reports64);
    }
}
