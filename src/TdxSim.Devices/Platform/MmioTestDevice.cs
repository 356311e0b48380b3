using System.Buffers.Binary;
using TdxSim.Devices.Bus;

namespace TdxSim.Devices.Platform;

/// <summary>
/// A 4 KiB MMIO test device (0xFEB00000 on the default machine) for exercising the #VE MMIO path:
/// <list type="bullet">
/// <item>+0, 8 bytes: scratch register; a read returns what was last written, at any size, little-endian
/// (writing byte 0x12 at +1 changes only bits 15:8).</item>
/// <item>+8, 8 bytes: read-only count of accesses to the device, reads and writes, counted before the access
/// (so the first access ever, if it reads +8, reads 1).</item>
/// <item>Everything else reads zero and ignores writes.</item>
/// </list>
/// The two registers form one 16-byte little-endian window, so an access straddling them sees bytes of both.
/// </summary>
public sealed class MmioTestDevice : IIoDevice
{
    /// <summary>Size of the register window.</summary>
    public const ulong Length = 0x1000;

    /// <summary>Offset of the scratch register.</summary>
    public const ulong ScratchOffset = 0;

    /// <summary>Offset of the access counter.</summary>
    public const ulong AccessCountOffset = 8;

    private const int WindowBytes = 16;

    private ulong _scratch;
    private ulong _accesses;

    /// <inheritdoc/>
    public string Name => "mmio-test";

    /// <summary>The scratch register.</summary>
    public ulong Scratch => Volatile.Read(ref _scratch);

    /// <summary>Accesses so far.</summary>
    public ulong Accesses => Volatile.Read(ref _accesses);

    /// <inheritdoc/>
    public ulong Read(ulong offset, int size)
    {
        Volatile.Write(ref _accesses, _accesses + 1);
        Span<byte> window = stackalloc byte[WindowBytes];
        BinaryPrimitives.WriteUInt64LittleEndian(window, _scratch);
        BinaryPrimitives.WriteUInt64LittleEndian(window[8..], _accesses);
        ulong value = 0;
        for (int i = 0; i < size; i++)
        {
            ulong at = offset + (ulong)i;
            if (at < WindowBytes)
            {
                value |= (ulong)window[(int)at] << (8 * i);
            }
        }

        return value;
    }

    /// <inheritdoc/>
    public void Write(ulong offset, int size, ulong value)
    {
        Volatile.Write(ref _accesses, _accesses + 1);
        ulong scratch = _scratch;
        for (int i = 0; i < size; i++)
        {
            ulong at = offset + (ulong)i;
            if (at < AccessCountOffset)
            {
                int shift = 8 * (int)at;
                scratch = (scratch & ~(0xFFUL << shift)) | (((value >> (8 * i)) & 0xFF) << shift);
            }
        }

        Volatile.Write(ref _scratch, scratch);
    }
}
