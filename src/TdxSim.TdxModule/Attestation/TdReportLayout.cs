namespace TdxSim.TdxModule.Attestation;

/// <summary>
/// Byte layout of the 1024-byte TDREPORT_STRUCT written by TDG.MR.REPORT (reference 1.3, [GRA]):
/// REPORTMACSTRUCT (256 B) at 0, TEE_TCB_INFO (239 B) at 256, 17 reserved bytes, TDINFO (512 B) at 512.
/// </summary>
public static class TdReportLayout
{
    public const int Size = 1024;
    public const int Alignment = 1024;
    public const int ReportDataSize = 64;
    public const int ReportDataAlignment = 64;
    public const int MeasurementSize = 48;

    // REPORTMACSTRUCT
    public const int ReportMacStruct = 0;
    public const int ReportMacStructSize = 256;
    public const int ReportType = 0;
    public const int CpuSvn = 16;
    public const int TeeTcbInfoHash = 32;
    public const int TeeInfoHash = 80;
    public const int ReportData = 128;
    public const int Mac = 224;
    public const int MacSize = 32;

    /// <summary>REPORTTYPE.TYPE of a TDX report.</summary>
    public const byte TypeTdx = 0x81;

    // TEE_TCB_INFO
    public const int TeeTcbInfo = 256;
    public const int TeeTcbInfoSize = 239;
    public const int TeeTcbInfoValid = TeeTcbInfo + 0;
    public const int TeeTcbSvn = TeeTcbInfo + 8;
    public const int MrSeam = TeeTcbInfo + 24;
    public const int MrSignerSeam = TeeTcbInfo + 72;
    public const int TeeTcbAttributes = TeeTcbInfo + 120;

    // TDINFO
    public const int TdInfo = 512;
    public const int TdInfoSize = 512;
    public const int Attributes = 512;
    public const int Xfam = 520;
    public const int Mrtd = 528;
    public const int MrConfigId = 576;
    public const int MrOwner = 624;
    public const int MrOwnerConfig = 672;
    public const int Rtmr0 = 720;
    public const int ServTdHash = 912;

    /// <summary>Offset of RTMR <paramref name="index"/> (0 to 3).</summary>
    public static int Rtmr(int index) => Rtmr0 + (index * MeasurementSize);
}
