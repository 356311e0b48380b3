using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;
using TdxSim.Abi;

namespace TdxSim.TdxModule.Attestation;

/// <summary>
/// MRTD as the TDX module computes it while the VMM builds the TD: every TDH.MEM.PAGE.ADD extends the SHA-384 with a
/// 128-byte block <c>"MEM.PAGE.ADD"</c> ‖ GPA, and every TDH.MR.EXTEND of a 256-byte chunk with a 128-byte block
/// <c>"MR.EXTEND"</c> ‖ GPA followed by the 256 data bytes (TDX module base spec, TD measurement). The block layout
/// (ASCII tag zero-padded to 16 bytes, GPA little-endian at byte 16, zeros to 128) is taken from that spec's
/// description and has not been checked against a real MRTD.
/// </summary>
public static class TdMeasurement
{
    private const int BlockSize = 128;
    private const int ChunkSize = 256;

    /// <summary>
    /// The MRTD of an image loaded at <paramref name="gpa"/> (4 KiB aligned), every page added and fully extended;
    /// the last page is zero-padded.
    /// </summary>
    public static byte[] MeasureImage(ulong gpa, ReadOnlySpan<byte> image)
    {
        if ((gpa & (GuestPhysical.PageSize - 1)) != 0)
        {
            throw new ArgumentException($"image GPA 0x{gpa:X} must be 4 KiB aligned", nameof(gpa));
        }

        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA384);
        Span<byte> block = stackalloc byte[BlockSize];
        Span<byte> chunk = stackalloc byte[ChunkSize];
        int pageSize = (int)GuestPhysical.PageSize;
        for (int pageOffset = 0; pageOffset < image.Length; pageOffset += pageSize)
        {
            ulong pageGpa = gpa + (ulong)pageOffset;
            Tag(block, "MEM.PAGE.ADD", pageGpa);
            hash.AppendData(block);
            for (int c = 0; c < pageSize; c += ChunkSize)
            {
                Tag(block, "MR.EXTEND", pageGpa + (ulong)c);
                hash.AppendData(block);
                chunk.Clear();
                int start = pageOffset + c;
                if (start < image.Length)
                {
                    image.Slice(start, Math.Min(ChunkSize, image.Length - start)).CopyTo(chunk);
                }

                hash.AppendData(chunk);
            }
        }

        return hash.GetHashAndReset();
    }

    private static void Tag(Span<byte> block, string tag, ulong gpa)
    {
        block.Clear();
        Encoding.ASCII.GetBytes(tag, block);
        BinaryPrimitives.WriteUInt64LittleEndian(block[16..], gpa);
    }
}
