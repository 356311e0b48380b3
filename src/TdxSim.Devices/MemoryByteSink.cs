using System.Text;

namespace TdxSim.Devices;

/// <summary>An <see cref="IByteSink"/> that keeps every byte in memory (tests, golden-output checks). Thread-safe.</summary>
public sealed class MemoryByteSink : IByteSink
{
    private readonly Lock _lock = new();
    private readonly List<byte> _bytes = [];

    /// <inheritdoc/>
    public void Write(byte value)
    {
        lock (_lock)
        {
            _bytes.Add(value);
        }
    }

    /// <summary>A copy of every byte written so far.</summary>
    public byte[] ToArray()
    {
        lock (_lock)
        {
            return [.. _bytes];
        }
    }

    /// <summary>The bytes written so far as Latin-1 text (one char per byte, nothing lost).</summary>
    public string Text => Encoding.Latin1.GetString(ToArray());
}
