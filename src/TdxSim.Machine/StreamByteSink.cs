using TdxSim.Devices;

namespace TdxSim.Machine;

/// <summary>
/// COM1's output: bytes the guest transmits go to a stream (stdout for the CLI), exactly as sent. Buffered,
/// flushed at every newline and on <see cref="Flush"/>, so a long line never waits for the end of the run
/// and the stream sees whole lines. Thread-safe: several VMM actors may transmit at once.
/// </summary>
public sealed class StreamByteSink : IByteSink
{
    private readonly Stream _output;
    private readonly byte[] _buffer = new byte[4096];
    private readonly Lock _gate = new();
    private int _used;
    private long _total;

    /// <summary>Writes to <paramref name="output"/>.</summary>
    public StreamByteSink(Stream output)
    {
        ArgumentNullException.ThrowIfNull(output);
        _output = output;
    }

    /// <summary>Bytes transmitted so far.</summary>
    public long BytesWritten => Interlocked.Read(ref _total);

    /// <summary>The first error writing the stream (the guest keeps running; the error is reported at the end).</summary>
    public IOException? Error { get; private set; }

    /// <inheritdoc/>
    public void Write(byte value)
    {
        lock (_gate)
        {
            _buffer[_used++] = value;
            _total++;
            if (value == (byte)'\n' || _used == _buffer.Length)
            {
                FlushLocked();
            }
        }
    }

    /// <summary>Writes out whatever is buffered.</summary>
    public void Flush()
    {
        lock (_gate)
        {
            FlushLocked();
        }
    }

    private void FlushLocked()
    {
        if (_used == 0)
        {
            return;
        }

        try
        {
            if (Error is null)
            {
                _output.Write(_buffer, 0, _used);
                _output.Flush();
            }
        }
        catch (IOException e)
        {
            Error = e;
        }

        _used = 0;
    }
}
