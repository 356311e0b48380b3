using System.Globalization;
using System.Text;
using System.Text.Json;
using TdxSim.Abi;

namespace TdxSim.Machine.Logging.Reading;

/// <summary>
/// Reads a message log (JSON Lines, contract section 6) back into <see cref="LogEntry"/> values, checking each
/// line: required fields (<c>seq</c>, <c>t_ns</c>, <c>to</c>, <c>type</c>, <c>corr</c>), field types, hex formats,
/// register names, and that <c>seq</c> strictly increases and <c>t_ns</c> never decreases (the log is in delivery
/// order). A violation throws <see cref="LogFormatException"/> naming the file and line. Blank lines are skipped;
/// unknown fields are ignored so newer logs stay readable. Repeated strings (actor and type names) are shared.
/// </summary>
public sealed class MessageLogReader
{
    private readonly string _fileName;
    private readonly Dictionary<string, string> _strings = new(StringComparer.Ordinal);
    private readonly Dictionary<string, string>.AlternateLookup<ReadOnlySpan<char>> _stringLookup;
    private byte[] _bytes = new byte[1024];
    private long _lastSeq;
    private long _lastTime = long.MinValue;
    private int _lineNumber;

    /// <summary>Creates a reader whose errors name <paramref name="fileName"/>.</summary>
    public MessageLogReader(string fileName)
    {
        ArgumentException.ThrowIfNullOrEmpty(fileName);
        _fileName = fileName;
        _stringLookup = _strings.GetAlternateLookup<ReadOnlySpan<char>>();
    }

    /// <summary>Reads every entry of the file at <paramref name="path"/>, lazily, in order.</summary>
    /// <exception cref="LogFormatException">A line is malformed (thrown when the enumeration reaches it).</exception>
    /// <exception cref="IOException">The file cannot be read.</exception>
    public static IEnumerable<LogEntry> ReadFile(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        return ReadFileCore(path);
    }

    /// <summary>Reads every entry from <paramref name="text"/>, naming <paramref name="fileName"/> in errors.</summary>
    public static IEnumerable<LogEntry> Read(TextReader text, string fileName)
    {
        ArgumentNullException.ThrowIfNull(text);
        var reader = new MessageLogReader(fileName);
        return reader.ReadAll(text);
    }

    /// <summary>Reads the remaining lines of <paramref name="text"/>.</summary>
    public IEnumerable<LogEntry> ReadAll(TextReader text)
    {
        ArgumentNullException.ThrowIfNull(text);
        while (text.ReadLine() is string line)
        {
            if (string.IsNullOrWhiteSpace(line))
            {
                _lineNumber++;
                continue;
            }

            yield return ParseNext(line);
        }
    }

    /// <summary>Parses the next line (counting it), checking it against the previous one.</summary>
    public LogEntry ParseNext(string line)
    {
        ArgumentNullException.ThrowIfNull(line);
        _lineNumber++;

        LogEntry entry = Parse(line);
        if (entry.Seq <= _lastSeq)
        {
            throw Error($"seq {entry.Seq} does not follow the previous line's seq {_lastSeq}: the log must be in delivery order");
        }

        if (entry.TimeNs < _lastTime)
        {
            throw Error($"t_ns {entry.TimeNs} is earlier than the previous line's t_ns {_lastTime}: the log must be in delivery order");
        }

        _lastSeq = entry.Seq;
        _lastTime = entry.TimeNs;
        return entry;
    }

    private static IEnumerable<LogEntry> ReadFileCore(string path)
    {
        using var text = new StreamReader(path, Encoding.UTF8, detectEncodingFromByteOrderMarks: true, new FileStreamOptions { Access = FileAccess.Read, Share = FileShare.ReadWrite, BufferSize = 1 << 16 });
        var reader = new MessageLogReader(path);
        foreach (LogEntry entry in reader.ReadAll(text))
        {
            yield return entry;
        }
    }

    private LogEntry Parse(string line)
    {
        int max = Encoding.UTF8.GetMaxByteCount(line.Length);
        if (_bytes.Length < max)
        {
            _bytes = new byte[Math.Max(max, _bytes.Length * 2)];
        }

        int length = Encoding.UTF8.GetBytes(line, _bytes);
        try
        {
            return Parse(new ReadOnlySpan<byte>(_bytes, 0, length));
        }
        catch (JsonException ex)
        {
            throw Error($"not valid JSON ({Describe(ex)})");
        }
    }

    private LogEntry Parse(ReadOnlySpan<byte> utf8)
    {
        var json = new Utf8JsonReader(utf8, new JsonReaderOptions { CommentHandling = JsonCommentHandling.Disallow, MaxDepth = 8 });
        if (!json.Read() || json.TokenType != JsonTokenType.StartObject)
        {
            throw Error("expected a JSON object");
        }

        long? seq = null, time = null, corr = null, wait = null, service = null;
        int? vcpu = null;
        string? from = null, to = null, type = null, leaf = null, subfn = null, reason = null;
        ulong? status = null;
        ushort mask = 0;
        Gprs registers = default;
        var seen = new SeenFields();

        while (json.Read() && json.TokenType != JsonTokenType.EndObject)
        {
            Field field = FieldOf(ref json);
            if (field != Field.Unknown && !seen.Add(field))
            {
                throw Error($"field '{FieldName(field)}' appears twice");
            }

            json.Read();
            switch (field)
            {
                case Field.Seq:
                    seq = Integer(ref json, LogFormat.SeqField, min: 1);
                    break;
                case Field.Time:
                    time = Integer(ref json, LogFormat.TimeField, min: 0);
                    break;
                case Field.Vcpu:
                    vcpu = json.TokenType == JsonTokenType.Null ? null : (int)Integer(ref json, LogFormat.VcpuField, min: 0, max: int.MaxValue);
                    break;
                case Field.From:
                    from = json.TokenType == JsonTokenType.Null ? null : Text(ref json, LogFormat.FromField);
                    break;
                case Field.To:
                    to = Text(ref json, LogFormat.ToField);
                    break;
                case Field.Type:
                    type = Text(ref json, LogFormat.TypeField);
                    break;
                case Field.Leaf:
                    leaf = OptionalText(ref json, LogFormat.LeafField);
                    break;
                case Field.Subfn:
                    subfn = OptionalText(ref json, LogFormat.SubfnField);
                    break;
                case Field.Reason:
                    reason = OptionalText(ref json, LogFormat.ReasonField);
                    break;
                case Field.Corr:
                    corr = Integer(ref json, LogFormat.CorrField, min: long.MinValue);
                    break;
                case Field.Status:
                    status = json.TokenType == JsonTokenType.Null ? null : HexValue(ref json, $"field '{LogFormat.StatusField}'");
                    break;
                case Field.Regs:
                    ReadRegisters(ref json, ref mask, ref registers);
                    break;
                case Field.Wait:
                    wait = json.TokenType == JsonTokenType.Null ? null : Integer(ref json, LogFormat.WaitField, min: 0);
                    break;
                case Field.Service:
                    service = json.TokenType == JsonTokenType.Null ? null : Integer(ref json, LogFormat.ServiceField, min: 0);
                    break;
                default:
                    json.Skip();
                    break;
            }
        }

        // Trailing content after the object makes Utf8JsonReader throw (a JsonException reported as invalid JSON).
        if (json.Read())
        {
            throw Error("unexpected content after the JSON object");
        }

        return new LogEntry
        {
            LineNumber = _lineNumber,
            Seq = seq ?? throw Missing(LogFormat.SeqField),
            TimeNs = time ?? throw Missing(LogFormat.TimeField),
            Vcpu = vcpu,
            From = from,
            To = to ?? throw Missing(LogFormat.ToField),
            Type = type ?? throw Missing(LogFormat.TypeField),
            Leaf = leaf,
            Subfn = subfn,
            Reason = reason,
            Corr = corr ?? throw Missing(LogFormat.CorrField),
            Status = status,
            RegisterMask = mask,
            Registers = registers,
            WaitNs = wait,
            ServiceNs = service,
        };
    }

    private void ReadRegisters(ref Utf8JsonReader json, ref ushort mask, ref Gprs registers)
    {
        if (json.TokenType == JsonTokenType.Null)
        {
            return;
        }

        if (json.TokenType != JsonTokenType.StartObject)
        {
            throw Error($"field '{LogFormat.RegsField}' must be an object of register names to hex strings, got {TokenName(json.TokenType)}");
        }

        Span<char> nameBuffer = stackalloc char[16];
        while (json.Read() && json.TokenType != JsonTokenType.EndObject)
        {
            int nameLength = json.ValueSpan.Length <= nameBuffer.Length && !json.ValueIsEscaped
                ? Encoding.UTF8.GetChars(json.ValueSpan, nameBuffer)
                : -1;
            int index = nameLength < 0 ? -1 : LogFormat.RegisterIndex(nameBuffer[..nameLength]);
            if (index < 0)
            {
                throw Error($"unknown register '{json.GetString()}' in '{LogFormat.RegsField}' (expected rax, rcx, ..., r15 in lower case)");
            }

            string register = Gprs.Names[index];
            if ((mask & (1 << index)) != 0)
            {
                throw Error($"register '{register}' appears twice in '{LogFormat.RegsField}'");
            }

            json.Read();
            registers[index] = HexValue(ref json, $"register '{register}'");
            mask |= (ushort)(1 << index);
        }
    }

    private long Integer(ref Utf8JsonReader json, string field, long min, long max = long.MaxValue)
    {
        if (json.TokenType != JsonTokenType.Number || !json.TryGetInt64(out long value))
        {
            throw Error($"field '{field}' must be an integer, got {TokenName(json.TokenType)}{Shown(ref json)}");
        }

        if (value < min || value > max)
        {
            string range = max == long.MaxValue ? $"at least {min}" : $"between {min} and {max}";
            throw Error($"field '{field}' must be {range}, got {value}");
        }

        return value;
    }

    private ulong HexValue(ref Utf8JsonReader json, string what)
    {
        if (json.TokenType == JsonTokenType.String)
        {
            Span<char> text = stackalloc char[LogFormat.MaxHexLength];
            if (json.ValueSpan.Length <= text.Length && !json.ValueIsEscaped)
            {
                int n = Encoding.UTF8.GetChars(json.ValueSpan, text);
                if (LogFormat.TryParseHex(text[..n], out ulong value))
                {
                    return value;
                }
            }
        }

        throw Error($"{what} must be a hex string like \"0x3f8\", got {TokenName(json.TokenType)}{Shown(ref json)}");
    }

    private string Text(ref Utf8JsonReader json, string field)
    {
        if (json.TokenType != JsonTokenType.String)
        {
            throw Error($"field '{field}' must be a string, got {TokenName(json.TokenType)}{Shown(ref json)}");
        }

        string value = Intern(ref json);
        if (value.Length == 0)
        {
            throw Error($"field '{field}' must not be empty");
        }

        return value;
    }

    private string? OptionalText(ref Utf8JsonReader json, string field) =>
        json.TokenType == JsonTokenType.Null ? null : Text(ref json, field);

    private string Intern(ref Utf8JsonReader json)
    {
        int max = json.ValueSpan.Length;
        if (max > 256)
        {
            return json.GetString()!;
        }

        Span<char> chars = stackalloc char[max];
        int length = json.CopyString(chars);
        ReadOnlySpan<char> text = chars[..length];
        if (_stringLookup.TryGetValue(text, out string? existing))
        {
            return existing;
        }

        string created = text.ToString();
        _strings.Add(created, created);
        return created;
    }

    private static string Shown(ref Utf8JsonReader json)
    {
        if (json.TokenType is JsonTokenType.StartObject or JsonTokenType.StartArray or JsonTokenType.Null)
        {
            return string.Empty;
        }

        ReadOnlySpan<byte> raw = json.ValueSpan;
        string text = Encoding.UTF8.GetString(raw.Length > 40 ? raw[..40] : raw);
        return json.TokenType == JsonTokenType.String ? $" \"{text}\"" : $" {text}";
    }

    private static string TokenName(JsonTokenType token) => token switch
    {
        JsonTokenType.String => "a string",
        JsonTokenType.Number => "a number",
        JsonTokenType.True or JsonTokenType.False => "a boolean",
        JsonTokenType.Null => "null",
        JsonTokenType.StartObject => "an object",
        JsonTokenType.StartArray => "an array",
        _ => token.ToString(),
    };

    private static string Describe(JsonException ex)
    {
        // Utf8JsonReader reports the byte position; the line is known, so the byte is enough context.
        string message = ex.Message;
        int cut = message.IndexOf(" LineNumber:", StringComparison.Ordinal);
        string detail = cut > 0 ? message[..cut].TrimEnd(' ', '.') : message.TrimEnd('.');
        return ex.BytePositionInLine is long position
            ? string.Create(CultureInfo.InvariantCulture, $"{detail} at byte {position + 1}")
            : detail;
    }

    private static Field FieldOf(ref Utf8JsonReader json)
    {
        if (json.ValueTextEquals(LogFormat.SeqField))
        {
            return Field.Seq;
        }

        if (json.ValueTextEquals(LogFormat.TimeField))
        {
            return Field.Time;
        }

        if (json.ValueTextEquals(LogFormat.VcpuField))
        {
            return Field.Vcpu;
        }

        if (json.ValueTextEquals(LogFormat.FromField))
        {
            return Field.From;
        }

        if (json.ValueTextEquals(LogFormat.ToField))
        {
            return Field.To;
        }

        if (json.ValueTextEquals(LogFormat.TypeField))
        {
            return Field.Type;
        }

        if (json.ValueTextEquals(LogFormat.LeafField))
        {
            return Field.Leaf;
        }

        if (json.ValueTextEquals(LogFormat.SubfnField))
        {
            return Field.Subfn;
        }

        if (json.ValueTextEquals(LogFormat.ReasonField))
        {
            return Field.Reason;
        }

        if (json.ValueTextEquals(LogFormat.CorrField))
        {
            return Field.Corr;
        }

        if (json.ValueTextEquals(LogFormat.StatusField))
        {
            return Field.Status;
        }

        if (json.ValueTextEquals(LogFormat.WaitField))
        {
            return Field.Wait;
        }

        if (json.ValueTextEquals(LogFormat.ServiceField))
        {
            return Field.Service;
        }

        return json.ValueTextEquals(LogFormat.RegsField) ? Field.Regs : Field.Unknown;
    }

    private static string FieldName(Field field) => field switch
    {
        Field.Seq => LogFormat.SeqField,
        Field.Time => LogFormat.TimeField,
        Field.Vcpu => LogFormat.VcpuField,
        Field.From => LogFormat.FromField,
        Field.To => LogFormat.ToField,
        Field.Type => LogFormat.TypeField,
        Field.Leaf => LogFormat.LeafField,
        Field.Subfn => LogFormat.SubfnField,
        Field.Reason => LogFormat.ReasonField,
        Field.Corr => LogFormat.CorrField,
        Field.Status => LogFormat.StatusField,
        Field.Regs => LogFormat.RegsField,
        Field.Wait => LogFormat.WaitField,
        Field.Service => LogFormat.ServiceField,
        _ => "?",
    };

    private LogFormatException Missing(string field) => Error($"missing field '{field}'");

    private LogFormatException Error(string problem) => new(_fileName, _lineNumber, problem);

    private enum Field
    {
        Unknown,
        Seq,
        Time,
        Vcpu,
        From,
        To,
        Type,
        Leaf,
        Subfn,
        Reason,
        Corr,
        Status,
        Regs,
        Wait,
        Service,
    }

    private struct SeenFields
    {
        private int _bits;

        public bool Add(Field field)
        {
            int bit = 1 << (int)field;
            bool added = (_bits & bit) == 0;
            _bits |= bit;
            return added;
        }
    }
}
