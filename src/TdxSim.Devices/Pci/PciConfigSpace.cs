namespace TdxSim.Devices.Pci;

/// <summary>
/// The 256-byte configuration space of one PCI function (PCI Local Bus Specification 3.0, chapter 6), with a
/// per-byte write mask: a write changes only the bits the mask allows, the rest keep their value (QEMU's
/// <c>wmask</c> model). Not thread-safe by itself: <see cref="PciConfigIo"/> owns it under the bus lock.
/// </summary>
public sealed class PciConfigSpace
{
    /// <summary>Size of conventional configuration space.</summary>
    public const int Size = 256;

    /// <summary>Offsets of the common header fields (PCI 3.0, figure 6-1).</summary>
    public const int VendorIdOffset = 0x00;

    /// <inheritdoc cref="VendorIdOffset"/>
    public const int DeviceIdOffset = 0x02;

    /// <inheritdoc cref="VendorIdOffset"/>
    public const int CommandOffset = 0x04;

    /// <inheritdoc cref="VendorIdOffset"/>
    public const int StatusOffset = 0x06;

    /// <inheritdoc cref="VendorIdOffset"/>
    public const int RevisionIdOffset = 0x08;

    /// <inheritdoc cref="VendorIdOffset"/>
    public const int ClassCodeOffset = 0x09;

    /// <inheritdoc cref="VendorIdOffset"/>
    public const int CacheLineSizeOffset = 0x0C;

    /// <inheritdoc cref="VendorIdOffset"/>
    public const int LatencyTimerOffset = 0x0D;

    /// <inheritdoc cref="VendorIdOffset"/>
    public const int HeaderTypeOffset = 0x0E;

    /// <inheritdoc cref="VendorIdOffset"/>
    public const int InterruptLineOffset = 0x3C;

    private readonly byte[] _bytes = new byte[Size];
    private readonly byte[] _writeMask = new byte[Size];

    /// <summary>Reads <paramref name="size"/> bytes (1, 2 or 4) at <paramref name="offset"/>, little-endian.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The access leaves configuration space.</exception>
    public uint Read(int offset, int size)
    {
        CheckRange(offset, size);
        uint value = 0;
        for (int i = 0; i < size; i++)
        {
            value |= (uint)_bytes[offset + i] << (8 * i);
        }

        return value;
    }

    /// <summary>Guest write: changes only the bits the write mask allows.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The access leaves configuration space.</exception>
    public void Write(int offset, int size, uint value)
    {
        CheckRange(offset, size);
        for (int i = 0; i < size; i++)
        {
            byte mask = _writeMask[offset + i];
            byte b = (byte)(value >> (8 * i));
            _bytes[offset + i] = (byte)((_bytes[offset + i] & ~mask) | (b & mask));
        }
    }

    /// <summary>Device setup: sets read-only contents regardless of the write mask.</summary>
    public void Initialize(int offset, int size, uint value)
    {
        CheckRange(offset, size);
        for (int i = 0; i < size; i++)
        {
            _bytes[offset + i] = (byte)(value >> (8 * i));
        }
    }

    /// <summary>Device setup: which bits of <c>[offset, offset + size)</c> a guest may write.</summary>
    public void SetWriteMask(int offset, int size, uint mask)
    {
        CheckRange(offset, size);
        for (int i = 0; i < size; i++)
        {
            _writeMask[offset + i] = (byte)(mask >> (8 * i));
        }
    }

    private static void CheckRange(int offset, int size)
    {
        if (size is not (1 or 2 or 4) || offset < 0 || offset + size > Size)
        {
            throw new ArgumentOutOfRangeException(nameof(offset), $"configuration access of {size} bytes at 0x{offset:X} leaves the 256-byte space");
        }
    }
}
