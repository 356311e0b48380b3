using System.Runtime.InteropServices;
using TdxSim.Abi;
using TdxSim.Memory;

namespace TdxSim.Cpu.Exec;

/// <summary>
/// The interpreter's half of the spin watch, which lets a deterministic run fast-forward a vCPU spinning in a
/// pause loop instead of interpreting every turn of it (<see cref="Cpu.RunProbe"/>, <see cref="Cpu.SliceChangedMemory"/>).
/// A probe slice sends every data access to the slow path (its private-memory bound is zero while it runs) and
/// records each page it touches; during any slice, the first write to a page that is watched (or, probing, to any
/// page) copies the page aside, and the end of the slice compares: a page left as it was (a test-and-set that found
/// the lock taken writes the value already there) changed nothing, and a watched page that did change fires its
/// watch. Only pages with a flag, or probe slices, pay for this; the fast paths are unchanged.
/// </summary>
internal static unsafe class SpinWatch
{
    /// <summary>Pages a probe records and a slice compares; a loop touching more is not a spin worth watching.</summary>
    public const int MaxPages = 8;

    private const ulong SharedMark = 1UL << 63;

    /// <summary>An access to <paramref name="page"/> in the slow path, by a probe or into a watched page.</summary>
    public static void Note(CpuCore* c, ulong page, bool shared, bool write)
    {
        if (c->Probe != 0)
        {
            Record(ref c->ProbeCount, c->ProbePages, page, ref c->ProbeOverflow);
        }

        if (!write)
        {
            return;
        }

        ulong key = page | (shared ? SharedMark : 0);
        for (int i = 0; i < c->SnapCount; i++)
        {
            if (c->SnapPages[i] == key)
            {
                return;
            }
        }

        if (c->SnapCount == MaxPages)
        {
            // Nothing left to compare with: count the write as a change, and wake every watcher at the end.
            c->SliceChangedMemory = 1;
            if ((c->States[page] & GuestPhysicalMemory.WatchFlag) != 0)
            {
                c->WatchOverflow = 1;
            }

            return;
        }

        if (c->SnapBuffer == null)
        {
            c->SnapBuffer = (byte*)NativeMemory.Alloc(MaxPages * (nuint)GuestPhysical.PageSize);
        }

        Buffer.MemoryCopy(PageBase(c, key), c->SnapBuffer + ((ulong)c->SnapCount * GuestPhysical.PageSize), GuestPhysical.PageSize, GuestPhysical.PageSize);
        c->SnapPages[c->SnapCount++] = key;
    }

    /// <summary>
    /// The end of a slice that copied pages aside: notes whether any changed, and returns through
    /// <paramref name="fire"/> the watched pages that did (at most <see cref="MaxPages"/>); true when every watch must
    /// fire because a write could not be compared.
    /// </summary>
    public static bool Finish(CpuCore* c, Span<ulong> fire, out int fired)
    {
        fired = 0;
        for (int i = 0; i < c->SnapCount; i++)
        {
            ulong key = c->SnapPages[i];
            var before = new ReadOnlySpan<byte>(c->SnapBuffer + ((ulong)i * GuestPhysical.PageSize), (int)GuestPhysical.PageSize);
            var now = new ReadOnlySpan<byte>(PageBase(c, key), (int)GuestPhysical.PageSize);
            if (before.SequenceEqual(now))
            {
                continue;
            }

            c->SliceChangedMemory = 1;
            ulong page = key & ~SharedMark;
            if ((c->States[page] & GuestPhysicalMemory.WatchFlag) != 0)
            {
                fire[fired++] = page;
            }
        }

        c->SnapCount = 0;
        bool all = c->WatchOverflow != 0;
        c->WatchOverflow = 0;
        return all;
    }

    private static byte* PageBase(CpuCore* c, ulong key)
    {
        ulong offset = (key & ~SharedMark) << GuestPhysical.PageShift;
        return (key & SharedMark) != 0 ? c->Shared + offset : c->Mem + offset;
    }

    private static void Record(ref int count, ulong* pages, ulong page, ref byte overflow)
    {
        for (int i = 0; i < count; i++)
        {
            if (pages[i] == page)
            {
                return;
            }
        }

        if (count == MaxPages)
        {
            overflow = 1;
            return;
        }

        pages[count++] = page;
    }
}
