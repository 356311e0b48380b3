using System.Buffers;
using System.Numerics;
using System.Text.Json;
using TdxSim.Abi;

namespace TdxSim.Machine.Logging;

/// <summary>
/// The message log's field names (contract section 6) and value formats, shared by the writer, the reader
/// and <c>tdxsim inspect</c> so the three can never disagree.
/// </summary>
/// <remarks>
/// Field choices: <c>vcpu</c> is always present (an integer, or <c>null</c> for a message that concerns no vCPU);
/// <c>from</c> is <c>null</c> for a message sent without a sender; <c>leaf</c>, <c>subfn</c>, <c>reason</c>,
/// <c>status</c> and <c>regs</c> are omitted where they do not apply (never written as <c>null</c>). Hex values are
/// lower case with a <c>0x</c> prefix and no leading zeros (<c>0x3f8</c>, <c>0x0</c>).
/// </remarks>
public static class LogFormat
{
    public const string SeqField = "seq";
    public const string TimeField = "t_ns";
    public const string VcpuField = "vcpu";
    public const string FromField = "from";
    public const string ToField = "to";
    public const string TypeField = "type";
    public const string LeafField = "leaf";
    public const string SubfnField = "subfn";
    public const string ReasonField = "reason";
    public const string CorrField = "corr";
    public const string StatusField = "status";
    public const string RegsField = "regs";
    public const string FaultField = "fault";
    public const string WaitField = "wait_ns";
    public const string ServiceField = "service_ns";

    /// <summary>Longest hex text: "0x" and 16 digits.</summary>
    public const int MaxHexLength = 18;

    internal static readonly JsonEncodedText Seq = JsonEncodedText.Encode(SeqField);
    internal static readonly JsonEncodedText Time = JsonEncodedText.Encode(TimeField);
    internal static readonly JsonEncodedText Vcpu = JsonEncodedText.Encode(VcpuField);
    internal static readonly JsonEncodedText From = JsonEncodedText.Encode(FromField);
    internal static readonly JsonEncodedText To = JsonEncodedText.Encode(ToField);
    internal static readonly JsonEncodedText Type = JsonEncodedText.Encode(TypeField);
    internal static readonly JsonEncodedText Leaf = JsonEncodedText.Encode(LeafField);
    internal static readonly JsonEncodedText Subfn = JsonEncodedText.Encode(SubfnField);
    internal static readonly JsonEncodedText Reason = JsonEncodedText.Encode(ReasonField);
    internal static readonly JsonEncodedText Corr = JsonEncodedText.Encode(CorrField);
    internal static readonly JsonEncodedText Status = JsonEncodedText.Encode(StatusField);
    internal static readonly JsonEncodedText Regs = JsonEncodedText.Encode(RegsField);
    internal static readonly JsonEncodedText Fault = JsonEncodedText.Encode(FaultField);
    internal static readonly JsonEncodedText Wait = JsonEncodedText.Encode(WaitField);
    internal static readonly JsonEncodedText Service = JsonEncodedText.Encode(ServiceField);

    /// <summary>Register names pre-encoded, indexed by <see cref="Gpr"/>.</summary>
    internal static readonly JsonEncodedText[] RegisterNames = CreateRegisterNames();

    /// <summary>Register names as UTF-8 bytes (plain ASCII, no escaping needed), indexed by <see cref="Gpr"/>.</summary>
    private static readonly byte[][] RegisterNamesUtf8 = [.. RegisterNames.Select(n => n.EncodedUtf8Bytes.ToArray())];

    /// <summary>Formats <paramref name="value"/> as <c>0x…</c> (lower case, no leading zeros) into <paramref name="destination"/>.</summary>
    /// <returns>The number of bytes written.</returns>
    public static int FormatHex(ulong value, Span<byte> destination)
    {
        if (destination.Length < MaxHexLength)
        {
            throw new ArgumentException($"The destination needs {MaxHexLength} bytes.", nameof(destination));
        }

        ReadOnlySpan<byte> digits = "0123456789abcdef"u8;
        int count = value == 0 ? 1 : (67 - BitOperations.LeadingZeroCount(value)) / 4;
        destination[0] = (byte)'0';
        destination[1] = (byte)'x';
        for (int i = count + 1; i >= 2; i--)
        {
            destination[i] = digits[(int)(value & 0xF)];
            value >>= 4;
        }

        return count + 2;
    }

    /// <summary>Formats <paramref name="value"/> as <c>0x…</c> (allocates; for output paths that are not hot).</summary>
    public static string Hex(ulong value) => "0x" + value.ToString("x", System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>Parses <c>0x…</c> (1 to 16 hex digits, either case).</summary>
    public static bool TryParseHex(ReadOnlySpan<char> text, out ulong value)
    {
        value = 0;
        if (text.Length < 3 || text.Length > MaxHexLength || text[0] != '0' || (text[1] != 'x' && text[1] != 'X'))
        {
            return false;
        }

        return ulong.TryParse(text[2..], System.Globalization.NumberStyles.AllowHexSpecifier, System.Globalization.CultureInfo.InvariantCulture, out value);
    }

    /// <summary>Writes <paramref name="value"/> as a hex string value.</summary>
    internal static void WriteHexValue(Utf8JsonWriter writer, ulong value)
    {
        Span<byte> text = stackalloc byte[MaxHexLength];
        int length = FormatHex(value, text);
        writer.WriteStringValue(text[..length]);
    }

    /// <summary>Writes the property <paramref name="name"/> with <paramref name="value"/> as a hex string.</summary>
    internal static void WriteHex(Utf8JsonWriter writer, JsonEncodedText name, ulong value)
    {
        Span<byte> text = stackalloc byte[MaxHexLength];
        int length = FormatHex(value, text);
        writer.WriteString(name, text[..length]);
    }

    /// <summary>
    /// Longest text <see cref="FormatRegisters"/> writes: 16 × (<c>"r15":"0x</c> + 16 digits + <c>",</c>) and the
    /// braces come to 434 bytes; a round bound leaves room.
    /// </summary>
    internal const int MaxRegistersLength = 512;

    /// <summary>
    /// Writes the registers selected by <paramref name="mask"/> as an object of hex strings, in <see cref="Gpr"/> order.
    /// The object is assembled as one raw fragment: names and hex digits never need escaping, and skipping the
    /// writer's per-string validation halves the cost of a typical record.
    /// </summary>
    internal static void WriteRegisters(Utf8JsonWriter writer, JsonEncodedText name, ushort mask, in Gprs registers)
    {
        Span<byte> text = stackalloc byte[MaxRegistersLength];
        int length = FormatRegisters(mask, in registers, text);
        writer.WritePropertyName(name);
        writer.WriteRawValue(text[..length], skipInputValidation: true);
    }

    /// <summary>
    /// Formats the registers selected by <paramref name="mask"/> as a JSON object of hex strings in <see cref="Gpr"/>
    /// order (<c>{"rax":"0x3","rcx":"0x0"}</c>) into <paramref name="destination"/>, which needs
    /// <see cref="MaxRegistersLength"/> bytes. Shared by <see cref="WriteRegisters"/> and the JSON Lines writer,
    /// which formats straight into its output buffer.
    /// </summary>
    /// <returns>The number of bytes written.</returns>
    internal static int FormatRegisters(ushort mask, in Gprs registers, Span<byte> destination)
    {
        if (destination.Length < MaxRegistersLength)
        {
            throw new ArgumentException($"The destination needs {MaxRegistersLength} bytes.", nameof(destination));
        }

        int pos = 0;
        destination[pos++] = (byte)'{';
        uint remaining = mask;
        while (remaining != 0)
        {
            int i = BitOperations.TrailingZeroCount(remaining);
            remaining &= remaining - 1;
            if (pos > 1)
            {
                destination[pos++] = (byte)',';
            }

            destination[pos++] = (byte)'"';
            ReadOnlySpan<byte> register = RegisterNamesUtf8[i];
            register.CopyTo(destination[pos..]);
            pos += register.Length;
            destination[pos++] = (byte)'"';
            destination[pos++] = (byte)':';
            destination[pos++] = (byte)'"';
            pos += FormatHex(registers[i], destination[pos..]);
            destination[pos++] = (byte)'"';
        }

        destination[pos++] = (byte)'}';
        return pos;
    }

    /// <summary>The <see cref="Gpr"/> number of a lower-case register name, or -1.</summary>
    public static int RegisterIndex(ReadOnlySpan<char> name)
    {
        ReadOnlySpan<string> names = Gprs.Names;
        for (int i = 0; i < names.Length; i++)
        {
            if (name.SequenceEqual(names[i]))
            {
                return i;
            }
        }

        return -1;
    }

    /// <summary>Writes microseconds with three decimals from nanoseconds (Chrome trace <c>ts</c>/<c>dur</c>), e.g. 1234 → 1.234.</summary>
    internal static void WriteMicroseconds(Utf8JsonWriter writer, JsonEncodedText name, long nanoseconds)
    {
        Span<byte> text = stackalloc byte[32];
        int length = FormatMicroseconds(nanoseconds, text);
        writer.WritePropertyName(name);
        writer.WriteRawValue(text[..length], skipInputValidation: true);
    }

    /// <summary>Formats nanoseconds as decimal microseconds with exactly three fraction digits.</summary>
    internal static int FormatMicroseconds(long nanoseconds, Span<byte> destination)
    {
        int pos = 0;
        if (nanoseconds < 0)
        {
            destination[pos++] = (byte)'-';
            nanoseconds = nanoseconds == long.MinValue ? long.MaxValue : -nanoseconds;
        }

        long whole = nanoseconds / 1000;
        long fraction = nanoseconds % 1000;
        whole.TryFormat(destination[pos..], out int written, default, provider: null);
        pos += written;
        destination[pos++] = (byte)'.';
        destination[pos++] = (byte)('0' + (fraction / 100));
        destination[pos++] = (byte)('0' + (fraction / 10 % 10));
        destination[pos++] = (byte)('0' + (fraction % 10));
        return pos;
    }

    private static JsonEncodedText[] CreateRegisterNames()
    {
        var names = new JsonEncodedText[Gprs.Count];
        for (int i = 0; i < names.Length; i++)
        {
            names[i] = JsonEncodedText.Encode(Gprs.Names[i]);
        }

        return names;
    }

    /// <summary>A growable output buffer the writers reuse (cleared without freeing between flushes).</summary>
    internal static ArrayBufferWriter<byte> CreateBuffer() => new(64 * 1024);
}
