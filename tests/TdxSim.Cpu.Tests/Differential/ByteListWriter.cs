using Iced.Intel;

namespace TdxSim.Cpu.Tests.Differential;

/// <summary>An Iced code writer into a growable list.</summary>
internal sealed class ByteListWriter : CodeWriter
{
    private readonly List<byte> _bytes = new(256);

    public int Count => _bytes.Count;

    public override void WriteByte(byte value) => _bytes.Add(value);

    public void Clear() => _bytes.Clear();

    public byte[] ToArray() => [.. _bytes];
}
