using System.Buffers;
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
/// Formatting reuses one <see cref="Utf8JsonWriter"/> and one buffer; per record it allocates nothing once
/// each message type has been seen (type names are encoded once). The buffer goes to the stream on flush,
/// so the stream's own buffering is not needed (files are opened unbuffered).
/// </remarks>
public sealed class JsonLinesLogSink : MessageLogSink
{
    private readonly Stream _stream;
    private readonly bool _ownsStream;
    private readonly ArrayBufferWriter<byte> _buffer = LogFormat.CreateBuffer();
    private readonly Utf8JsonWriter _writer;
    private readonly Dictionary<Type, JsonEncodedText> _typeNames = [];
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
        _writer = new Utf8JsonWriter(_buffer, new JsonWriterOptions { SkipValidation = true });
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
    protected override void WriteRecord(in MessageRecord record)
    {
        Utf8JsonWriter w = _writer;
        object message = record.Message;
        var tdx = message as ITdxMessage;

        w.WriteStartObject();
        w.WriteNumber(LogFormat.Seq, record.Seq);
        w.WriteNumber(LogFormat.Time, record.TimeNs);
        if (tdx is not null && tdx.Vcpu >= 0)
        {
            w.WriteNumber(LogFormat.Vcpu, tdx.Vcpu);
        }
        else
        {
            w.WriteNull(LogFormat.Vcpu);
        }

        if (record.From is null)
        {
            w.WriteNull(LogFormat.From);
        }
        else
        {
            w.WriteString(LogFormat.From, record.From.Encoded);
        }

        w.WriteString(LogFormat.To, record.To.Encoded);
        w.WriteString(LogFormat.Type, TypeName(message.GetType()));
        if (tdx is not null)
        {
            WriteOptional(w, LogFormat.Leaf, tdx.Leaf);
            WriteOptional(w, LogFormat.Subfn, tdx.Subfn);
            WriteOptional(w, LogFormat.Reason, tdx.Reason);
        }

        w.WriteNumber(LogFormat.Corr, record.CorrelationId);
        if (tdx is not null)
        {
            if (tdx.Status is ulong status)
            {
                LogFormat.WriteHex(w, LogFormat.Status, status);
            }

            ushort mask = tdx.VisibleRegisters;
            if (mask != 0)
            {
                Gprs registers = tdx.Registers;
                LogFormat.WriteRegisters(w, LogFormat.Regs, mask, in registers);
            }

            WriteOptional(w, LogFormat.Fault, tdx.Fault);
        }

        // Optional (README, "Message log: added fields"), written by a recorder with service times (every tdxsim run,
        // stress and sweep): from the send to the handling's start, and the handling's duration.
        if (record.ServiceNs >= 0)
        {
            if (record.SentAtNs >= 0)
            {
                w.WriteNumber(LogFormat.Wait, Math.Max(0, record.TimeNs - record.SentAtNs));
            }

            w.WriteNumber(LogFormat.Service, record.ServiceNs);
        }

        w.WriteEndObject();
        w.Flush();
        w.Reset();
        _buffer.Write("\n"u8);
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
        if (disposing)
        {
            _writer.Dispose();
            if (_ownsStream)
            {
                _stream.Dispose();
            }
        }
    }

    private void WriteOptional(Utf8JsonWriter w, JsonEncodedText name, string? value)
    {
        if (value is not null)
        {
            w.WriteString(name, _texts.Get(value));
        }
    }

    private JsonEncodedText TypeName(Type type)
    {
        if (!_typeNames.TryGetValue(type, out JsonEncodedText name))
        {
            name = JsonEncodedText.Encode(type.Name);
            _typeNames.Add(type, name);
        }

        return name;
    }
}
