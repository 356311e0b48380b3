namespace TdxSim.Devices.Bus;

/// <summary>
/// A device on a <see cref="DeviceBus"/>: the same contract for port I/O and MMIO, as in kvmtool and
/// rust-vmm. The device sees an offset from the base it was registered at, never the base itself, so the
/// same model can sit at any address.
/// </summary>
/// <remarks>
/// The bus calls a device under that device's own lock (see <see cref="DeviceBus"/>), so an implementation
/// needs no locking for guest accesses. An access is routed by its first address: a device must accept any
/// size at any offset of its range, including an access that runs past the end of the range.
/// </remarks>
public interface IIoDevice
{
    /// <summary>Short stable name used in counters and diagnostics, e.g. <c>com1</c>.</summary>
    string Name { get; }

    /// <summary>Reads <paramref name="size"/> bytes (1, 2, 4 or 8) at <paramref name="offset"/>, little-endian.
    /// Bits above the access size are ignored by the bus.</summary>
    ulong Read(ulong offset, int size);

    /// <summary>Writes the low <paramref name="size"/> bytes (1, 2, 4 or 8) of <paramref name="value"/> at
    /// <paramref name="offset"/>, little-endian. The bus has already cleared the bits above the access size.</summary>
    void Write(ulong offset, int size, ulong value);
}
