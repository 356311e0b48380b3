using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;

namespace TdxSim.Vmm.Quote;

/// <summary>
/// The quote TdxSim's VMM produces: not an Intel DCAP quote (there is no quoting enclave), but a deterministic,
/// checkable stand-in that carries the TDREPORT.
/// <code>
/// offset 0        8 bytes  magic "TDXSIMQ1"
/// offset 8        u32      n = TDREPORT length
/// offset 12       n bytes  the TDREPORT exactly as the TD supplied it
/// offset 12 + n   32 bytes SHA-256 over bytes [0, 12 + n)
/// </code>
/// </summary>
public static class SyntheticQuote
{
    /// <summary>The magic at offset 0.</summary>
    public static ReadOnlySpan<byte> Magic => "TDXSIMQ1"u8;

    /// <summary>Bytes added around the report.</summary>
    public const int Overhead = 8 + 4 + SHA256.HashSizeInBytes;

    /// <summary>The quote for <paramref name="report"/>.</summary>
    public static byte[] Build(ReadOnlySpan<byte> report)
    {
        var quote = new byte[report.Length + Overhead];
        Magic.CopyTo(quote);
        BinaryPrimitives.WriteUInt32LittleEndian(quote.AsSpan(8), (uint)report.Length);
        report.CopyTo(quote.AsSpan(12));
        SHA256.HashData(quote.AsSpan(0, 12 + report.Length), quote.AsSpan(12 + report.Length));
        return quote;
    }

    /// <summary>Checks magic, length and signature; on success returns the embedded report.</summary>
    public static bool TryVerify(ReadOnlySpan<byte> quote, out byte[] report)
    {
        report = [];
        if (quote.Length < Overhead || !quote[..8].SequenceEqual(Magic))
        {
            return false;
        }

        uint n = BinaryPrimitives.ReadUInt32LittleEndian(quote[8..]);
        if (n != (uint)(quote.Length - Overhead))
        {
            return false;
        }

        Span<byte> hash = stackalloc byte[SHA256.HashSizeInBytes];
        SHA256.HashData(quote[..(12 + (int)n)], hash);
        if (!hash.SequenceEqual(quote[(12 + (int)n)..]))
        {
            return false;
        }

        report = quote.Slice(12, (int)n).ToArray();
        return true;
    }

    /// <summary>The magic as text, for messages.</summary>
    public static string MagicText => Encoding.ASCII.GetString(Magic);
}
