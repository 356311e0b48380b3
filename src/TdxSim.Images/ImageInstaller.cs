using TdxSim.Abi;
using TdxSim.Memory;

namespace TdxSim.Images;

/// <summary>Copies a loaded <see cref="GuestImage"/> into guest-private memory.</summary>
public static class ImageInstaller
{
    /// <summary>
    /// Writes every segment's file bytes and zero-fills the rest of its memory size (.bss). Pages the
    /// image covers are accepted first if they are pending: the initial TD image is added with
    /// TDH.MEM.PAGE.ADD, which maps it private and accepted (reference 4.2), so an image works the same
    /// under lazy accept.
    /// </summary>
    /// <exception cref="ImageFormatException">A segment reaches outside private memory or onto a page converted to shared.</exception>
    public static void Install(GuestImage image, GuestPhysicalMemory memory)
    {
        ArgumentNullException.ThrowIfNull(image);
        ArgumentNullException.ThrowIfNull(memory);
        for (int i = 0; i < image.Segments.Count; i++)
        {
            ImageSegment s = image.Segments[i];
            if (s.MemorySize == 0)
            {
                continue;
            }

            if (s.Gpa >= memory.PrivateSize || s.MemorySize > memory.PrivateSize - s.Gpa)
            {
                throw new ImageFormatException(
                    $"image does not fit in private memory: segment {i} at 0x{s.Gpa:x} ends at 0x{s.Gpa + s.MemorySize:x} > 0x{memory.PrivateSize:x}");
            }

            AcceptPages(memory, s.Gpa, s.End);
            bool written = memory.TryWritePrivate(s.Gpa, s.Data.Span);
            ulong zeroFrom = s.Gpa + (ulong)s.Data.Length;
            written &= WriteZeros(memory, zeroFrom, s.End);
            if (!written)
            {
                throw new ImageFormatException(
                    $"segment {i} at 0x{s.Gpa:x} covers memory that is not accepted private memory (converted to shared?)");
            }
        }
    }

    private static void AcceptPages(GuestPhysicalMemory memory, ulong start, ulong end)
    {
        for (ulong page = start & ~(GuestPhysical.PageSize - 1); page < end; page += GuestPhysical.PageSize)
        {
            if (memory.GetPageState(page) == PageState.Pending)
            {
                memory.Accept(page, level: 0);
            }
        }
    }

    private static bool WriteZeros(GuestPhysicalMemory memory, ulong start, ulong end)
    {
        ReadOnlySpan<byte> zeros = stackalloc byte[(int)GuestPhysical.PageSize];
        for (ulong at = start; at < end;)
        {
            int n = (int)Math.Min(end - at, (ulong)zeros.Length);
            if (!memory.TryWritePrivate(at, zeros[..n]))
            {
                return false;
            }

            at += (ulong)n;
        }

        return true;
    }
}
