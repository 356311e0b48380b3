using System.Buffers.Binary;
using System.Security.Cryptography;
using TdxSim.Abi;
using TdxSim.TdxModule.Attestation;

namespace TdxSim.TdxModule;

// TDG.MR.REPORT (leaf 4) and TDG.MR.RTMR.EXTEND (leaf 2): reference 1.3; [MOD] tdg_mr_report.c, tdg_mr_rtmr_extend.c.
public sealed partial class TdxModuleCore
{
    /// <summary>TEE_TCB_INFO.VALID: the 8-byte words 0 to 15 (VALID, TEE_TCB_SVN, MRSEAM, MRSIGNERSEAM, ATTRIBUTES) are valid.</summary>
    private const ulong TeeTcbInfoValid = 0xFFFF;

    /// <summary>MRSEAM of TdxSim's simulated module: SHA-384 of its name. MRSIGNERSEAM stays zero (an Intel-signed module).</summary>
    private static readonly byte[] MrSeam = SHA384.HashData("TdxSim TDX module"u8);

    /// <summary>
    /// True when <paramref name="report"/> (1024 bytes) carries a MAC this TD's module made: HMAC-SHA256 under the per-TD
    /// key over REPORTMACSTRUCT bytes 0 to 223. This is what TDG.MR.VERIFYREPORT (or a quoting enclave) would check.
    /// </summary>
    public bool VerifyReportMac(ReadOnlySpan<byte> report)
    {
        if (report.Length != TdReportLayout.Size)
        {
            return false;
        }

        Span<byte> mac = stackalloc byte[TdReportLayout.MacSize];
        HMACSHA256.HashData(_reportMacKey, report[..TdReportLayout.Mac], mac);
        return CryptographicOperations.FixedTimeEquals(mac, report.Slice(TdReportLayout.Mac, TdReportLayout.MacSize));
    }

    /// <summary>
    /// RCX = GPA of the 1024-byte TDREPORT (1024-aligned), RDX = GPA of the 64-byte REPORTDATA (64-aligned), R8 = subtype 0.
    /// Check order as in the module: RCX alignment, RDX alignment, RDX GPA and read, R8, RCX GPA and write. Private or
    /// shared GPAs. An operand the module cannot reach is an EPT violation (<see cref="GuestOperandFault"/>).
    /// </summary>
    private TdcallOutcome MrReport(VcpuContext ctx, in Gprs regs)
    {
        const ushort Leaf = (ushort)TdcallLeaf.MrReport;
        ulong reportGpa = regs[Gpr.Rcx];
        ulong dataGpa = regs[Gpr.Rdx];
        if ((reportGpa & (TdReportLayout.Alignment - 1)) != 0)
        {
            return Fail(ctx, Leaf, TdxStatus.WithOperand(TdxStatus.OperandInvalid, Gpr.Rcx));
        }

        if ((dataGpa & (TdReportLayout.ReportDataAlignment - 1)) != 0 || !WithinGpaw(dataGpa))
        {
            return Fail(ctx, Leaf, TdxStatus.WithOperand(TdxStatus.OperandInvalid, Gpr.Rdx));
        }

        Span<byte> report = stackalloc byte[TdReportLayout.Size];
        if (!TryReadGuest(dataGpa, report.Slice(TdReportLayout.ReportData, TdReportLayout.ReportDataSize)))
        {
            return GuestOperandFault(ctx, dataGpa, write: false, "TDG.MR.REPORT REPORTDATA");
        }

        if (regs[Gpr.R8] != 0)
        {
            return Fail(ctx, Leaf, TdxStatus.WithOperand(TdxStatus.OperandInvalid, Gpr.R8));
        }

        BuildReport(report);
        if (!WithinGpaw(reportGpa))
        {
            return Fail(ctx, Leaf, TdxStatus.WithOperand(TdxStatus.OperandInvalid, Gpr.Rcx));
        }

        if (!TryWriteGuest(reportGpa, report))
        {
            return GuestOperandFault(ctx, reportGpa, write: true, "TDG.MR.REPORT TDREPORT");
        }

        return Fail(ctx, Leaf, TdxStatus.Success);
    }

    /// <summary>
    /// RCX = GPA of the 48-byte extension (64-aligned, private only), RDX = RTMR index 0 to 3.
    /// New RTMR = SHA-384(old RTMR ‖ data). The data is read before the index is checked, as in the module.
    /// </summary>
    private TdcallOutcome MrRtmrExtend(VcpuContext ctx, in Gprs regs)
    {
        const ushort Leaf = (ushort)TdcallLeaf.MrRtmrExtend;
        const int Size = TdxModuleOptions.MeasurementLength;
        ulong gpa = regs[Gpr.Rcx];
        ulong index = regs[Gpr.Rdx];
        if ((gpa & 63) != 0 || !WithinGpaw(gpa) || GuestPhysical.IsShared(gpa))
        {
            return Fail(ctx, Leaf, TdxStatus.WithOperand(TdxStatus.OperandInvalid, Gpr.Rcx));
        }

        Span<byte> chain = stackalloc byte[2 * Size];
        if (!_memory.TryReadPrivate(gpa, chain[Size..]))
        {
            return GuestOperandFault(ctx, gpa, write: false, "TDG.MR.RTMR.EXTEND");
        }

        if (index >= RtmrCount)
        {
            return Fail(ctx, Leaf, TdxStatus.WithOperand(TdxStatus.OperandInvalid, Gpr.Rdx));
        }

        lock (_tdLock)
        {
            Span<byte> rtmr = _rtmrs.AsSpan((int)index * Size, Size);
            rtmr.CopyTo(chain);
            SHA384.HashData(chain, rtmr);
        }

        return Fail(ctx, Leaf, TdxStatus.Success);
    }

    /// <summary>Fills everything but REPORTDATA (already in place) and signs REPORTMACSTRUCT.</summary>
    private void BuildReport(Span<byte> report)
    {
        // REPORTTYPE: TYPE 0x81 (TDX), SUBTYPE 0, VERSION 0 (no service TDs bound). CPUSVN stays zero.
        report[TdReportLayout.ReportType] = TdReportLayout.TypeTdx;

        // TEE_TCB_INFO: TdxSim's module identity.
        BinaryPrimitives.WriteUInt64LittleEndian(report[TdReportLayout.TeeTcbInfoValid..], TeeTcbInfoValid);
        MrSeam.CopyTo(report[TdReportLayout.MrSeam..]);

        // TDINFO: ATTRIBUTES, XFAM, MRTD, MRCONFIGID, MROWNER, MROWNERCONFIG, RTMR0..3; SERVTD_HASH zero.
        Span<byte> tdInfo = report.Slice(TdReportLayout.TdInfo, TdReportLayout.TdInfoSize);
        _tdInfoStatic.CopyTo(tdInfo);
        BinaryPrimitives.WriteUInt64LittleEndian(report[TdReportLayout.Attributes..], Options.Attributes);
        BinaryPrimitives.WriteUInt64LittleEndian(report[TdReportLayout.Xfam..], Options.Xfam);
        lock (_tdLock)
        {
            _rtmrs.CopyTo(report[TdReportLayout.Rtmr0..]);
        }

        SHA384.HashData(report.Slice(TdReportLayout.TeeTcbInfo, TdReportLayout.TeeTcbInfoSize), report.Slice(TdReportLayout.TeeTcbInfoHash, TdReportLayout.MeasurementSize));
        SHA384.HashData(tdInfo, report.Slice(TdReportLayout.TeeInfoHash, TdReportLayout.MeasurementSize));
        HMACSHA256.HashData(_reportMacKey, report[..TdReportLayout.Mac], report.Slice(TdReportLayout.Mac, TdReportLayout.MacSize));
    }
}
