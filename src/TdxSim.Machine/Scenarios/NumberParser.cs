using System.Globalization;

namespace TdxSim.Machine.Scenarios;

/// <summary>
/// Numbers as the command line and scenarios write them (contract section 2): decimal or <c>0x</c> hex,
/// sizes with an optional <c>K</c>, <c>M</c> or <c>G</c> suffix (binary multiples), underscores allowed
/// as digit separators.
/// </summary>
public static class NumberParser
{
    /// <summary>Parses an unsigned 64-bit number; false when malformed or out of range.</summary>
    public static bool TryParseNumber(string? text, out ulong value)
    {
        value = 0;
        if (string.IsNullOrWhiteSpace(text))
        {
            return false;
        }

        string t = text.Trim().Replace("_", string.Empty, StringComparison.Ordinal);
        if (t.StartsWith("0x", StringComparison.OrdinalIgnoreCase))
        {
            return t.Length > 2 && ulong.TryParse(t.AsSpan(2), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out value);
        }

        return t.Length > 0 && char.IsAsciiDigit(t[0])
            && ulong.TryParse(t, NumberStyles.None, CultureInfo.InvariantCulture, out value);
    }

    /// <summary>Parses a size: a number with an optional K/M/G suffix (also KiB/MiB/GiB); false when malformed or overflowing.</summary>
    public static bool TryParseSize(string? text, out ulong value)
    {
        value = 0;
        if (string.IsNullOrWhiteSpace(text))
        {
            return false;
        }

        string t = text.Trim();
        int shift = 0;
        foreach ((string suffix, int s) in Suffixes)
        {
            if (t.EndsWith(suffix, StringComparison.OrdinalIgnoreCase) && !t.StartsWith("0x", StringComparison.OrdinalIgnoreCase))
            {
                t = t[..^suffix.Length];
                shift = s;
                break;
            }
        }

        if (!TryParseNumber(t, out ulong n))
        {
            return false;
        }

        if (shift > 0 && n > (ulong.MaxValue >> shift))
        {
            return false;
        }

        value = n << shift;
        return true;
    }

    private static readonly (string Suffix, int Shift)[] Suffixes =
    [
        ("KiB", 10), ("MiB", 20), ("GiB", 30), ("K", 10), ("M", 20), ("G", 30),
    ];
}
