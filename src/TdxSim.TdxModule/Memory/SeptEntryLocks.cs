using TdxSim.Abi;

namespace TdxSim.TdxModule.Memory;

/// <summary>
/// When a TDCALL's handling runs, for the Secure-EPT entry locks: on real threads (concurrent mode) a lock is held for
/// exactly as long as the handler runs; on the deterministic dispatcher every handler runs alone on one thread, so a
/// lock is held in virtual time instead, from the handling's start to its end (start plus the cost model's
/// <c>leaf_ns</c> for the leaf), and another vCPU's handling that starts inside that window finds it held.
/// </summary>
/// <param name="Virtual">True on the deterministic dispatcher: use <paramref name="StartNs"/> and <paramref name="EndNs"/>.</param>
/// <param name="StartNs">Virtual time the handling starts.</param>
/// <param name="EndNs">Virtual time the handling ends (start plus its cost).</param>
public readonly record struct SeptTiming(bool Virtual, long StartNs, long EndNs)
{
    /// <summary>Real time: the locks are real try-locks.</summary>
    public static SeptTiming RealTime => default;

    /// <summary>Virtual time: held over [<paramref name="startNs"/>, <paramref name="endNs"/>).</summary>
    public static SeptTiming At(long startNs, long endNs) => new(true, startNs, endNs);
}

/// <summary>
/// The TD-scope Secure-EPT entry locks of the TDX module ([MOD] tdg_mem_page_accept.c takes the SEPT entry of the
/// page with a try-lock, and answers TDX_OPERAND_BUSY when another logical processor's flow holds it; reference 4.3:
/// "lock contention → OPERAND_BUSY(RCX)"). One lock word per 4 KiB leaf entry and one per 2 MiB entry, all allocated
/// up front, so taking and releasing a lock allocates nothing.
/// <list type="bullet">
/// <item>Real time: a word is 0 (free) or <see cref="HeldByRealThread"/>; taken with one
/// <see cref="Interlocked.CompareExchange(ref long, long, long)"/> and released with a volatile write.</item>
/// <item>Virtual time: a word is the virtual time until which the entry is held; it is free for a handling that
/// starts at or after that time. Taking it writes the taker's end time; there is nothing to release.</item>
/// </list>
/// A 4 KiB accept holds its 4 KiB entry and finds the page busy while its 2 MiB entry is held (a 2 MiB accept in
/// flight over it); a 2 MiB accept holds its 2 MiB entry. (A 2 MiB accept does not look at the 512 leaf entries under
/// it: the memory model resolves that overlap by page state, as SIZE_MISMATCH or ALREADY_ACCEPTED.)
/// </summary>
public sealed class SeptEntryLocks
{
    /// <summary>The value of a lock word held by a real thread.</summary>
    public const long HeldByRealThread = -1;

    private readonly long[] _small;
    private readonly long[] _large;

    /// <summary>Locks for private memory <c>[0, privateSize)</c>.</summary>
    public SeptEntryLocks(ulong privateSize)
    {
        ulong pages = (privateSize + GuestPhysical.PageSize - 1) / GuestPhysical.PageSize;
        ulong large = (privateSize + GuestPhysical.LargePageSize - 1) / GuestPhysical.LargePageSize;
        _small = new long[pages];
        _large = new long[large];
    }

    /// <summary>
    /// Tries to take the entry of <paramref name="gpa"/> at <paramref name="level"/> (0 = 4 KiB, 1 = 2 MiB). False when
    /// another flow holds it (or, for 4 KiB, holds the 2 MiB entry above it). A GPA outside private memory has no
    /// entry to lock: true, and <see cref="Release"/> does nothing for it.
    /// </summary>
    public bool TryAcquire(ulong gpa, int level, in SeptTiming timing)
    {
        ulong small = gpa / GuestPhysical.PageSize;
        ulong large = gpa / GuestPhysical.LargePageSize;
        if (small >= (ulong)_small.Length)
        {
            return true;
        }

        if (timing.Virtual)
        {
            if (_large[large] > timing.StartNs || (level == 0 && _small[small] > timing.StartNs))
            {
                return false;
            }

            if (level == 0)
            {
                _small[small] = timing.EndNs;
            }
            else
            {
                _large[large] = timing.EndNs;
            }

            return true;
        }

        if (level != 0)
        {
            return Interlocked.CompareExchange(ref _large[large], HeldByRealThread, 0) == 0;
        }

        if (Volatile.Read(ref _large[large]) != 0)
        {
            return false;
        }

        return Interlocked.CompareExchange(ref _small[small], HeldByRealThread, 0) == 0;
    }

    /// <summary>Releases what <see cref="TryAcquire"/> took (real time only; a virtual hold ends by itself).</summary>
    public void Release(ulong gpa, int level, in SeptTiming timing)
    {
        ulong small = gpa / GuestPhysical.PageSize;
        if (timing.Virtual || small >= (ulong)_small.Length)
        {
            return;
        }

        if (level == 0)
        {
            Volatile.Write(ref _small[small], 0);
        }
        else
        {
            Volatile.Write(ref _large[gpa / GuestPhysical.LargePageSize], 0);
        }
    }

    /// <summary>True while the 4 KiB entry of <paramref name="gpa"/> is held at the start of <paramref name="timing"/> (virtual) or now (real).</summary>
    public bool IsHeld(ulong gpa, in SeptTiming timing)
    {
        ulong small = gpa / GuestPhysical.PageSize;
        if (small >= (ulong)_small.Length)
        {
            return false;
        }

        long word = Volatile.Read(ref _small[small]);
        return timing.Virtual ? word > timing.StartNs : word != 0;
    }
}
