using System.Buffers;
using System.Buffers.Text;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;
using TdxSim.Abi;
using TdxSim.Abi.Messages;

namespace TdxSim.Machine.Logging;

/// <summary>
/// Writes the message log as JSON Lines (contract section 6), one object per delivered message:
/// <c>{"seq":1,"t_ns":0,"vcpu":0,"from":"vcpu/0","to":"tdx-module","type":"TdcallRequested","leaf":"TDG.VP.VMCALL","subfn":"Instruction.IO","corr":7,"regs":{"rax":"0x0",…}}</c>.
/// See <see cref="LogFormat"/> for which fields are omitted or null.
/// </summary>
/// <remarks>
/// The log writer thread formats every delivered message, so this is the recorder's hot loop. A record is
/// assembled as UTF-8 bytes straight into one reusable buffer: property names come as precomputed fragments
/// (<c>,"t_ns":</c>), numbers from <see cref="Utf8Formatter"/>, hex from <see cref="LogFormat.FormatHex"/>, and
/// string values as bytes <see cref="JsonEncodedText"/> escaped once per string instance. Those are the same pieces
/// <see cref="Utf8JsonWriter"/> (default encoder, no indentation) emitted when it wrote these records, so the
/// output is byte for byte what it was, at a fraction of the cost; the tests compare the two on random records.
/// Per record it allocates nothing once each string and message type has been seen. The buffer goes to the
/// stream on flush, so the stream's own buffering is not needed (files are opened unbuffered).
/// </remarks>
public sealed class JsonLinesLogSink : MessageLogSink
{
    /// <summary>
    /// Bytes a record needs beyond its variable strings: the property-name fragments (about 130 bytes), six
    /// numbers of at most 20 digits, the status and <see cref="LogFormat.MaxRegistersLength"/> for the registers,
    /// rounded up.
    /// </summary>
    private const int FixedBound = 1024;

    private static readonly byte[] SeqPrefix = Fragment("{", LogFormat.Seq, ":");
    private static readonly byte[] TimePrefix = Fragment(",", LogFormat.Time, ":");
    private static readonly byte[] VcpuPrefix = Fragment(",", LogFormat.Vcpu, ":");
    private static readonly byte[] VcpuNull = Fragment(",", LogFormat.Vcpu, ":null");
    private static readonly byte[] FromPrefix = Fragment(",", LogFormat.From, ":\"");
    private static readonly byte[] FromNull = Fragment(",", LogFormat.From, ":null");
    private static readonly byte[] ToPrefix = Fragment("\",", LogFormat.To, ":\"");
    private static readonly byte[] ToPrefixAfterNull = Fragment(",", LogFormat.To, ":\"");
    private static readonly byte[] TypePrefix = Fragment("\",", LogFormat.Type, ":\"");
    private static readonly byte[] LeafPrefix = Fragment("\",", LogFormat.Leaf, ":\"");
    private static readonly byte[] SubfnPrefix = Fragment("\",", LogFormat.Subfn, ":\"");
    private static readonly byte[] ReasonPrefix = Fragment("\",", LogFormat.Reason, ":\"");
    private static readonly byte[] CorrPrefix = Fragment("\",", LogFormat.Corr, ":");
    private static readonly byte[] StatusPrefix = Fragment(",", LogFormat.Status, ":\"");
    private static readonly byte[] RegsPrefix = Fragment(",", LogFormat.Regs, ":");
    private static readonly byte[] FaultPrefix = Fragment(",", LogFormat.Fault, ":\"");
    private static readonly byte[] WaitPrefix = Fragment(",", LogFormat.Wait, ":");
    private static readonly byte[] ServicePrefix = Fragment(",", LogFormat.Service, ":");

    private readonly Stream _stream;
    private readonly bool _ownsStream;
    private readonly ArrayBufferWriter<byte> _buffer = LogFormat.CreateBuffer();
    private readonly EncodedTextCache _texts = new();

    /// <summary>Writes to <paramref name="stream"/>, called <paramref name="name"/> in reports.</summary>
    /// <param name="stream">The destination.</param>
    /// <param name="name">The sink's name in reports.</param>
    /// <param name="ownsStream">Dispose the stream on completion.</param>
    public JsonLinesLogSink(Stream stream, string name = "message log", bool ownsStream = false)
        : base(name)
    {
        ArgumentNullException.ThrowIfNull(stream);
        _stream = stream;
        _ownsStream = ownsStream;
    }

    /// <summary>Creates (or truncates) <paramref name="path"/> and writes to it.</summary>
    public static JsonLinesLogSink Create(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        return new JsonLinesLogSink(OpenFile(path), path, ownsStream: true);
    }

    internal static FileStream OpenFile(string path) =>
        new(path, FileMode.Create, FileAccess.Write, FileShare.Read, bufferSize: 0);

    /// <inheritdoc/>
    /// <remarks>
    /// Every string is looked up (and, the first time, escaped) before anything is written, so the exact space the
    /// record can need is known up front and a failing encoding leaves nothing half written.
    /// </remarks>
    protected override void WriteRecord(in MessageRecord record)
    {
        object message = record.Message;
        var tdx = message as ITdxMessage;
        ActorLabel? from = record.From;
        ReadOnlySpan<byte> fromText = from is null ? default : from.Encoded.EncodedUtf8Bytes;
        ReadOnlySpan<byte> toText = record.To.Encoded.EncodedUtf8Bytes;
        ReadOnlySpan<byte> typeText = _texts.GetTypeName(message.GetType()).EncodedUtf8Bytes;
        int vcpu = -1;
        string? leaf = null;
        string? subfn = null;
        string? reason = null;
        string? fault = null;
        ReadOnlySpan<byte> leafText = default;
        ReadOnlySpan<byte> subfnText = default;
        ReadOnlySpan<byte> reasonText = default;
        ReadOnlySpan<byte> faultText = default;
        if (tdx is not null)
        {
            vcpu = tdx.Vcpu;
            leaf = tdx.Leaf;
            subfn = tdx.Subfn;
            reason = tdx.Reason;
            fault = tdx.Fault;
            if (leaf is not null)
            {
                leafText = _texts.Get(leaf).EncodedUtf8Bytes;
            }

            if (subfn is not null)
            {
                subfnText = _texts.Get(subfn).EncodedUtf8Bytes;
            }

            if (reason is not null)
            {
                reasonText = _texts.Get(reason).EncodedUtf8Bytes;
            }

            if (fault is not null)
            {
                faultText = _texts.Get(fault).EncodedUtf8Bytes;
            }
        }

        int bound = FixedBound + fromText.Length + toText.Length + typeText.Length + leafText.Length
            + subfnText.Length + reasonText.Length + faultText.Length;
        Span<byte> line = _buffer.GetSpan(bound);
        int pos = Append(line, 0, SeqPrefix);
        pos = AppendNumber(line, pos, record.Seq);
        pos = Append(line, pos, TimePrefix);
        pos = AppendNumber(line, pos, record.TimeNs);
        if (vcpu >= 0)
        {
            pos = Append(line, pos, VcpuPrefix);
            pos = AppendNumber(line, pos, vcpu);
        }
        else
        {
            pos = Append(line, pos, VcpuNull);
        }

        if (from is null)
        {
            pos = Append(line, pos, FromNull);
            pos = Append(line, pos, ToPrefixAfterNull);
        }
        else
        {
            pos = Append(line, pos, FromPrefix);
            pos = Append(line, pos, fromText);
            pos = Append(line, pos, ToPrefix);
        }

        // From here each string value's closing quote comes with the next property's fragment.
        pos = Append(line, pos, toText);
        pos = Append(line, pos, TypePrefix);
        pos = Append(line, pos, typeText);
        if (leaf is not null)
        {
            pos = Append(line, pos, LeafPrefix);
            pos = Append(line, pos, leafText);
        }

        if (subfn is not null)
        {
            pos = Append(line, pos, SubfnPrefix);
            pos = Append(line, pos, subfnText);
        }

        if (reason is not null)
        {
            pos = Append(line, pos, ReasonPrefix);
            pos = Append(line, pos, reasonText);
        }

        pos = Append(line, pos, CorrPrefix);
        pos = AppendNumber(line, pos, record.CorrelationId);
        if (tdx is not null)
        {
            if (tdx.Status is ulong status)
            {
                pos = Append(line, pos, StatusPrefix);
                pos += LogFormat.FormatHex(status, line[pos..]);
                line[pos++] = (byte)'"';
            }

            ushort mask = tdx.VisibleRegisters;
            if (mask != 0)
            {
                Gprs registers = tdx.Registers;
                pos = Append(line, pos, RegsPrefix);
                pos += LogFormat.FormatRegisters(mask, in registers, line[pos..]);
            }

            if (fault is not null)
            {
                pos = Append(line, pos, FaultPrefix);
                pos = Append(line, pos, faultText);
                line[pos++] = (byte)'"';
            }
        }

        // Optional (README, "Message log: added fields"), written by a recorder with service times (every tdxsim run,
        // stress and sweep): from the send to the handling's start, and the handling's duration.
        if (record.ServiceNs >= 0)
        {
            if (record.SentAtNs >= 0)
            {
                pos = Append(line, pos, WaitPrefix);
                pos = AppendNumber(line, pos, Math.Max(0, record.TimeNs - record.SentAtNs));
            }

            pos = Append(line, pos, ServicePrefix);
            pos = AppendNumber(line, pos, record.ServiceNs);
        }

        line[pos++] = (byte)'}';
        line[pos++] = (byte)'\n';
        _buffer.Advance(pos);
    }

    /// <inheritdoc/>
    protected override void FlushCore()
    {
        if (_buffer.WrittenCount > 0)
        {
            _stream.Write(_buffer.WrittenSpan);
            _buffer.ResetWrittenCount();
        }

        _stream.Flush();
    }

    /// <inheritdoc/>
    protected override void Dispose(bool disposing)
    {
        if (disposing && _ownsStream)
        {
            _stream.Dispose();
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int Append(Span<byte> line, int pos, ReadOnlySpan<byte> bytes)
    {
        bytes.CopyTo(line[pos..]);
        return pos + bytes.Length;
    }

    /// <summary>Appends <paramref name="value"/> in the invariant shortest form <see cref="Utf8JsonWriter"/> uses for integers.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int AppendNumber(Span<byte> line, int pos, long value)
    {
        Utf8Formatter.TryFormat(value, line[pos..], out int written);
        return pos + written;
    }

    /// <summary>
    /// <paramref name="before"/>, the property name as <see cref="Utf8JsonWriter"/> writes it (quoted, escaped),
    /// then <paramref name="after"/>: e.g. <c>,"t_ns":</c>. Built from <see cref="LogFormat"/>'s names so the writer,
    /// the reader and <c>tdxsim inspect</c> keep one spelling.
    /// </summary>
    private static byte[] Fragment(string before, JsonEncodedText name, string after)
    {
        byte[] head = Encoding.UTF8.GetBytes(before + "\"");
        byte[] tail = Encoding.UTF8.GetBytes("\"" + after);
        return [.. head, .. name.EncodedUtf8Bytes, .. tail];
    }
}
