using System.Globalization;
using TdxSim.Abi;

namespace TdxSim.Images;

/// <summary>
/// Checks shared by every format: each segment inside private memory and below the vCPU stacks, no two
/// segments overlapping, and the entry point on loaded bytes (contract section 3).
/// </summary>
internal static class ImagePlacement
{
    public static void Check(IReadOnlyList<LoadedSegment> segments, ImageLoadOptions options)
    {
        foreach (LoadedSegment s in segments)
        {
            CheckInsideMemory(s, options);
        }

        CheckNoOverlap(segments);
    }

    private static void CheckInsideMemory(LoadedSegment s, ImageLoadOptions options)
    {
        ulong gpa = s.Segment.Gpa;
        if (GuestPhysical.IsShared(gpa))
        {
            throw new ImageFormatException(
                $"segment {s.Index} at 0x{gpa:x} has the shared bit (bit {GuestPhysical.Gpaw - 1}) set: images load into private memory");
        }

        // Overflow-safe: a hostile p_memsz must not wrap the end below the start.
        if (s.Segment.MemorySize > ulong.MaxValue - gpa)
        {
            throw new ImageFormatException(
                $"segment {s.Index} at 0x{gpa:x} with size 0x{s.Segment.MemorySize:x} wraps around the address space");
        }

        ulong end = gpa + s.Segment.MemorySize;
        if (end > options.MemoryBytes)
        {
            throw new ImageFormatException(
                $"image does not fit in private memory: segment {s.Index} at 0x{gpa:x} ends at 0x{end:x} > 0x{options.MemoryBytes:x}");
        }

        ulong stacks = options.StackAreaStart;
        if (end > stacks)
        {
            throw new ImageFormatException(
                $"image overlaps the vCPU stacks: segment {s.Index} at 0x{gpa:x} ends at 0x{end:x} > 0x{stacks:x} " +
                $"({options.VcpuStacks.ToString(CultureInfo.InvariantCulture)} vCPU{(options.VcpuStacks == 1 ? string.Empty : "s")} x 64 KiB at the top of private memory)");
        }
    }

    private static void CheckNoOverlap(IReadOnlyList<LoadedSegment> segments)
    {
        var sorted = segments.ToArray();
        Array.Sort(sorted, static (a, b) => a.Segment.Gpa.CompareTo(b.Segment.Gpa));
        for (int i = 1; i < sorted.Length; i++)
        {
            LoadedSegment previous = sorted[i - 1];
            LoadedSegment current = sorted[i];
            if (current.Segment.Gpa < previous.Segment.End)
            {
                int first = Math.Min(previous.Index, current.Index);
                int second = Math.Max(previous.Index, current.Index);
                throw new ImageFormatException(
                    $"segments {first} and {second} overlap at 0x{current.Segment.Gpa:x}");
            }
        }
    }

    /// <summary>
    /// The entry must be on bytes the image provides; an ELF entry must also be in an executable
    /// segment. An entry in zero fill (.bss) would execute <c>00 00</c> (ADD [RAX], AL) forever.
    /// </summary>
    public static void CheckEntry(IReadOnlyList<LoadedSegment> segments, ulong entry, bool overridden, bool requireExecutable)
    {
        string what = overridden ? $"entry point 0x{entry:x} (overridden)" : $"entry point 0x{entry:x}";
        foreach (LoadedSegment s in segments)
        {
            ImageSegment seg = s.Segment;
            if (entry < seg.Gpa || entry >= seg.End)
            {
                continue;
            }

            if (requireExecutable && !s.Executable)
            {
                throw new ImageFormatException($"{what} is in segment {s.Index}, which is not executable");
            }

            if (entry - seg.Gpa >= (ulong)seg.Data.Length)
            {
                throw new ImageFormatException(
                    $"{what} is in the zero-filled part of segment {s.Index} (file bytes end at 0x{seg.Gpa + (ulong)seg.Data.Length:x})");
            }

            return;
        }

        string loaded = string.Join(", ", segments.Select(s => $"[0x{s.Segment.Gpa:x}, 0x{s.Segment.End:x})"));
        throw new ImageFormatException($"{what} is outside the loaded image ({loaded})");
    }
}
