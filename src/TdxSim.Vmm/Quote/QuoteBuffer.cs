namespace TdxSim.Vmm.Quote;

/// <summary>
/// Layout of the GetQuote shared buffer (GHCI; reference 2.4): a 24-byte header, then data. The TD writes the
/// version, in_len and the TDREPORT; the VMM writes the status, out_len and the quote (over the TDREPORT).
/// </summary>
public static class QuoteBuffer
{
    /// <summary>u64: header version, written by the TD.</summary>
    public const int VersionOffset = 0;

    /// <summary>u64: request status, written by the VMM.</summary>
    public const int StatusOffset = 8;

    /// <summary>u32: length of the TDREPORT in the data area, written by the TD.</summary>
    public const int InLengthOffset = 16;

    /// <summary>u32: length of the quote in the data area, written by the VMM.</summary>
    public const int OutLengthOffset = 20;

    /// <summary>Start of the data area.</summary>
    public const int DataOffset = 24;

    /// <summary>The only header version.</summary>
    public const ulong Version = 1;

    /// <summary>Status: the quote is in the data area.</summary>
    public const ulong StatusSuccess = 0;

    /// <summary>Status: the VMM is still working.</summary>
    public const ulong StatusInFlight = 0xFFFF_FFFF_FFFF_FFFF;

    /// <summary>Status: the request failed (bad header, report too long, quote does not fit).</summary>
    public const ulong StatusError = 0x8000_0000_0000_0000;

    /// <summary>Status: no quoting service.</summary>
    public const ulong StatusServiceUnavailable = 0x8000_0000_0000_0001;
}
