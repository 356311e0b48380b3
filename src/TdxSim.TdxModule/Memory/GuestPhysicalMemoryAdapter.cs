using TdxSim.Abi;
using TdxSim.Memory;

namespace TdxSim.TdxModule.Memory;

/// <summary>
/// Presents <see cref="GuestPhysicalMemory"/> to the TDX module. <see cref="GuestPhysicalMemory.Accept"/> already
/// zeroes accepted pages; its <see cref="AcceptResult.InvalidOperand"/> can only mean "not mapped private" here,
/// because the module validates level, alignment, the shared bit and GPAW before it calls <see cref="Accept"/>.
/// </summary>
public sealed class GuestPhysicalMemoryAdapter : ITdMemory
{
    private readonly GuestPhysicalMemory _memory;

    /// <summary>Wraps <paramref name="memory"/>; the adapter does not own it.</summary>
    public GuestPhysicalMemoryAdapter(GuestPhysicalMemory memory)
    {
        ArgumentNullException.ThrowIfNull(memory);
        _memory = memory;
    }

    /// <inheritdoc/>
    public ulong PrivateSize => _memory.PrivateSize;

    /// <inheritdoc/>
    public TdPageState GetPageState(ulong gpa) => _memory.GetPageState(gpa) switch
    {
        PageState.Pending => TdPageState.Pending,
        PageState.Accepted => TdPageState.Accepted,
        PageState.ConvertedToShared => TdPageState.ConvertedToShared,
        _ => TdPageState.None,
    };

    /// <inheritdoc/>
    public TdAcceptResult Accept(ulong gpa, int level) => _memory.Accept(gpa, level) switch
    {
        AcceptResult.Success => TdAcceptResult.Success,
        AcceptResult.AlreadyAccepted => TdAcceptResult.AlreadyAccepted,
        AcceptResult.SizeMismatch => TdAcceptResult.SizeMismatch,
        _ => TdAcceptResult.NotMapped,
    };

    /// <inheritdoc/>
    public bool TryReadPrivate(ulong gpa, Span<byte> destination) => _memory.TryReadPrivate(gpa, destination);

    /// <inheritdoc/>
    public bool TryWritePrivate(ulong gpa, ReadOnlySpan<byte> source) => _memory.TryWritePrivate(gpa, source);

    /// <inheritdoc/>
    public bool TryReadShared(ulong gpa, Span<byte> destination)
        => GuestPhysical.IsShared(gpa) && _memory.TryReadShared(gpa, destination);

    /// <inheritdoc/>
    public bool TryWriteShared(ulong gpa, ReadOnlySpan<byte> source)
        => GuestPhysical.IsShared(gpa) && _memory.TryWriteShared(gpa, source);
}
