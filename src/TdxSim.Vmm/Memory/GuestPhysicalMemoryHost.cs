using TdxSim.Memory;

namespace TdxSim.Vmm.Memory;

/// <summary>Adapts <see cref="GuestPhysicalMemory"/> to the VMM's <see cref="IHostMemory"/>.</summary>
public sealed class GuestPhysicalMemoryHost : IHostMemory
{
    private readonly GuestPhysicalMemory _memory;

    /// <summary>Wraps <paramref name="memory"/>; the caller keeps ownership.</summary>
    public GuestPhysicalMemoryHost(GuestPhysicalMemory memory)
    {
        ArgumentNullException.ThrowIfNull(memory);
        _memory = memory;
    }

    /// <inheritdoc/>
    public ulong PrivateSize => _memory.PrivateSize;

    /// <inheritdoc/>
    public ConversionResult ConvertToShared(ulong gpa, ulong size) => _memory.ConvertToShared(gpa, size);

    /// <inheritdoc/>
    public ConversionResult ConvertToPrivate(ulong gpa, ulong size) => _memory.ConvertToPrivate(gpa, size);

    /// <inheritdoc/>
    public bool IsSharedBacked(ulong gpa) => _memory.IsSharedBacked(gpa);

    /// <inheritdoc/>
    public bool TryReadShared(ulong gpa, Span<byte> destination) => _memory.TryReadShared(gpa, destination);

    /// <inheritdoc/>
    public bool TryWriteShared(ulong gpa, ReadOnlySpan<byte> source) => _memory.TryWriteShared(gpa, source);
}
