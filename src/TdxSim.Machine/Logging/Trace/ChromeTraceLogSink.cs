using System.Buffers;
using TdxSim.Machine.Logging.Pairing;
using TdxSim.Machine.Logging.Reading;

namespace TdxSim.Machine.Logging.Trace;

/// <summary>
/// A recorder sink that writes the Chrome/Perfetto trace (contract section 7) with <see cref="ChromeTraceWriter"/>:
/// records are paired into requests (<see cref="RequestPairer"/>) and each request's slices are written as soon as
/// it ends. Completing the sink ends open requests and closes the JSON.
/// </summary>
public sealed class ChromeTraceLogSink : MessageLogSink
{
    private readonly Stream _stream;
    private readonly bool _ownsStream;
    private readonly ArrayBufferWriter<byte> _buffer = LogFormat.CreateBuffer();
    private readonly ChromeTraceWriter _writer;
    private readonly RequestPairer _pairer;

    /// <summary>Writes to <paramref name="stream"/>, called <paramref name="name"/> in reports.</summary>
    public ChromeTraceLogSink(Stream stream, string name = "trace", bool ownsStream = false)
        : base(name)
    {
        ArgumentNullException.ThrowIfNull(stream);
        _stream = stream;
        _ownsStream = ownsStream;
        _writer = new ChromeTraceWriter(_buffer);
        _pairer = new RequestPairer(_writer);
    }

    /// <summary>Creates (or truncates) <paramref name="path"/> and writes to it.</summary>
    public static ChromeTraceLogSink Create(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        return new ChromeTraceLogSink(JsonLinesLogSink.OpenFile(path), path, ownsStream: true);
    }

    /// <summary>Writes the trace of a message log read back from a file (send times unknown: slices run delivery to delivery).</summary>
    public static void Convert(IEnumerable<LogEntry> entries, Stream output)
    {
        ArgumentNullException.ThrowIfNull(entries);
        ArgumentNullException.ThrowIfNull(output);
        var buffer = LogFormat.CreateBuffer();
        using var writer = new ChromeTraceWriter(buffer);
        var pairer = new RequestPairer(writer);
        foreach (LogEntry entry in entries)
        {
            writer.NowNs = Math.Max(writer.NowNs, entry.TimeNs);
            Hop hop = entry.ToHop();
            pairer.Observe(in hop);
            if (buffer.WrittenCount > 60 * 1024)
            {
                output.Write(buffer.WrittenSpan);
                buffer.ResetWrittenCount();
            }
        }

        pairer.Finish();
        writer.Finish();
        output.Write(buffer.WrittenSpan);
        output.Flush();
    }

    /// <inheritdoc/>
    protected override void WriteRecord(in MessageRecord record)
    {
        _writer.NowNs = Math.Max(_writer.NowNs, record.TimeNs);
        Hop hop = Hop.FromRecord(in record);
        _pairer.Observe(in hop);
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
    protected override void CompleteCore()
    {
        _pairer.Finish();
        _writer.Finish();
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
}
