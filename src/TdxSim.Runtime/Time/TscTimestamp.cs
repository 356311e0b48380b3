using System.Diagnostics;
using System.Runtime.InteropServices;

namespace TdxSim.Runtime.Time;

/// <summary>
/// The host's time-stamp counter read with RDTSC, where the kernel or the hypervisor vouches for it on x64 Linux:
/// <c>tsc</c> as the current clocksource (the kernel checked that the TSC is invariant and synchronized across CPUs),
/// or <c>kvm-clock</c> with the hypervisor's stable-TSC bit set (see <see cref="KvmClockTscIsStable"/>).
/// A read costs about 12 ns here against about 28 ns for <c>clock_gettime</c> on kvm-clock, and a #VE round trip of
/// a real-time run reads the clock several times. Elsewhere, or with <c>TDXSIM_CLOCK=stopwatch</c>,
/// <see cref="Available"/> is false and <see cref="MonotonicClock"/> uses <see cref="Stopwatch"/>.
/// </summary>
/// <remarks>
/// .NET has no RDTSC intrinsic, so the four instructions (<c>rdtsc; shl rdx, 32; or rax, rdx; ret</c>) are written to
/// one page mapped executable and called through an unmanaged function pointer without a GC transition (they touch
/// neither the stack nor managed memory). The tick length comes from a 5 ms calibration against the Stopwatch, each end a tight bracket of reads.
/// RDTSC is not ordered with the loads and stores around it (an LFENCE before it would be, at 21 ns a read here
/// instead of 11): readings on one thread never go back, but a reading taken just after a lock is acquired may
/// predate, by a few nanoseconds, one taken on another core just before it was released. The hot path only subtracts
/// readings (latencies, waits clamped at 0); the message log keeps its <c>t_ns</c> in <c>seq</c> order itself.
/// </remarks>
internal static unsafe partial class TscTimestamp
{
    private const int ProtRead = 1;
    private const int ProtWrite = 2;
    private const int ProtExec = 4;
    private const int MapPrivate = 2;
    private const int MapAnonymous = 0x20;
    private const int PageBytes = 4096;

    private static readonly delegate* unmanaged[SuppressGCTransition]<ulong> s_read;

    static TscTimestamp()
    {
        try
        {
            if (!KernelKeepsTimeByTsc() || Environment.GetEnvironmentVariable("TDXSIM_CLOCK") == "stopwatch")
            {
                return;
            }

            byte* page = (byte*)Mmap(0, PageBytes, ProtRead | ProtWrite, MapPrivate | MapAnonymous, -1, 0);
            if ((nint)page == -1)
            {
                return;
            }

            ReadOnlySpan<byte> code = [0x0F, 0x31, 0x48, 0xC1, 0xE2, 0x20, 0x48, 0x09, 0xD0, 0xC3];
            code.CopyTo(new Span<byte>(page, PageBytes));
            if (Mprotect((nint)page, PageBytes, ProtRead | ProtExec) != 0)
            {
                return;
            }

            var read = (delegate* unmanaged[SuppressGCTransition]<ulong>)page;
            (long swStart, ulong tscStart) = Pair(read);
            long swEnd;
            ulong tscEnd;
            do
            {
                (swEnd, tscEnd) = Pair(read);
            }
            while (Stopwatch.GetElapsedTime(swStart, swEnd) < TimeSpan.FromMilliseconds(5));

            double ns = Stopwatch.GetElapsedTime(swStart, swEnd).TotalNanoseconds;
            double perTick = ns / (tscEnd - tscStart);

            // A counter between 100 MHz and 20 GHz that moved forward; anything else is not a TSC to trust.
            if (tscEnd <= tscStart || perTick is < 0.05 or > 10)
            {
                return;
            }

            NanosecondsPerTick = perTick;
            s_read = read;
            Available = true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or DllNotFoundException or EntryPointNotFoundException)
        {
            Available = false;
        }
    }

    /// <summary>
    /// A Stopwatch reading and a TSC reading taken together: the TSC read between two Stopwatch reads, the tightest
    /// of several such brackets kept, with the Stopwatch's midpoint. A thread preempted inside a bracket (a loaded
    /// host) would otherwise skew the tick length by the preemption over the calibration's few milliseconds.
    /// </summary>
    private static (long Stopwatch, ulong Tsc) Pair(delegate* unmanaged[SuppressGCTransition]<ulong> read)
    {
        long bestGap = long.MaxValue;
        (long, ulong) best = default;
        for (int i = 0; i < 16; i++)
        {
            long before = Stopwatch.GetTimestamp();
            ulong tsc = read();
            long after = Stopwatch.GetTimestamp();
            if (after - before < bestGap)
            {
                bestGap = after - before;
                best = (before + ((after - before) / 2), tsc);
            }
        }

        return best;
    }

    /// <summary>True when <see cref="Read"/> may be called.</summary>
    public static bool Available { get; }

    /// <summary>Nanoseconds per counter tick, from the calibration.</summary>
    public static double NanosecondsPerTick { get; }

    /// <summary>The counter now. Call only when <see cref="Available"/>.</summary>
    public static ulong Read() => s_read();

    /// <summary>What vouches for the TSC in this process: the kernel's clocksource, kvm-clock's stable bit, or nothing (null).</summary>
    public static string? Source => Available ? s_source : null;

    private static string? s_source;

    private const string ClocksourcePath = "/sys/devices/system/clocksource/clocksource0/current_clocksource";

    private static bool KernelKeepsTimeByTsc()
    {
        if (RuntimeInformation.ProcessArchitecture != Architecture.X64 || !OperatingSystem.IsLinux() || !File.Exists(ClocksourcePath))
        {
            return false;
        }

        string clocksource = File.ReadAllText(ClocksourcePath).Trim();
        if (clocksource == "tsc")
        {
            s_source = "tsc clocksource";
            return true;
        }

        if (clocksource == "kvm-clock" && KvmClockTscIsStable())
        {
            s_source = "kvm-clock, TSC stable";
            return true;
        }

        return false;
    }

    /// <summary>
    /// Whether the hypervisor behind kvm-clock declares the TSC stable (<c>PVCLOCK_TSC_STABLE_BIT</c>): synchronized
    /// across the vCPUs and at a constant rate, which is when the kernel's own vDSO computes <c>clock_gettime</c> from a
    /// plain RDTSC on any CPU. A guest may still run kvm-clock with the TSC clocksource turned off (<c>tsc=unstable</c>
    /// on its command line, as some microVM hosts boot theirs); this reads the bit where Linux 6.13 and later map
    /// the pvclock page for the vDSO: the first page of the <c>[vvar_vclock]</c> mapping, a
    /// <c>pvclock_vcpu_time_info</c> whose byte 29 holds the flags. Older kernels: false, and the Stopwatch is used.
    /// The bit is read once, at start: a host that clears it later (after moving the VM) is not followed, and a run
    /// across such a move may see one interval jump; every interval the hot path takes is between nearby readings.
    /// </summary>
    internal static bool KvmClockTscIsStable()
    {
        foreach (string line in File.ReadLines("/proc/self/maps"))
        {
            if (!line.EndsWith("[vvar_vclock]", StringComparison.Ordinal))
            {
                continue;
            }

            int dash = line.IndexOf('-', StringComparison.Ordinal);
            if (dash <= 0 || !ulong.TryParse(line.AsSpan(0, dash), System.Globalization.NumberStyles.HexNumber, null, out ulong start))
            {
                return false;
            }

            // The page is there only if the kernel's vDSO uses it: reading it directly could raise SIGBUS, so it is
            // copied through a pipe, where the kernel turns a fault into EFAULT.
            Span<byte> pvti = stackalloc byte[32];
            for (int attempt = 0; attempt < 100; attempt++)
            {
                if (!TryCopyUserMemory(start, pvti))
                {
                    return false;
                }

                // The host updates the page under a version counter, odd while it writes.
                uint version = BitConverter.ToUInt32(pvti);
                if ((version & 1) == 0)
                {
                    uint multiplier = BitConverter.ToUInt32(pvti[24..]);
                    return multiplier != 0 && (pvti[29] & PvclockTscStableBit) != 0;
                }
            }

            return false;
        }

        return false;
    }

    /// <summary>Copies <paramref name="into"/>'s length of this process's memory at <paramref name="address"/>, or false if it is not readable.</summary>
    private static bool TryCopyUserMemory(ulong address, Span<byte> into)
    {
        int* fds = stackalloc int[2];
        if (Pipe(fds) != 0)
        {
            return false;
        }

        try
        {
            fixed (byte* buffer = into)
            {
                return WriteFile(fds[1], (void*)address, (nuint)into.Length) == into.Length
                    && ReadFile(fds[0], buffer, (nuint)into.Length) == into.Length;
            }
        }
        finally
        {
            _ = Close(fds[0]);
            _ = Close(fds[1]);
        }
    }

    private const byte PvclockTscStableBit = 1;

    [LibraryImport("libc", EntryPoint = "pipe")]
    private static partial int Pipe(int* fds);

    [LibraryImport("libc", EntryPoint = "write")]
    private static partial nint WriteFile(int fd, void* buffer, nuint count);

    [LibraryImport("libc", EntryPoint = "read")]
    private static partial nint ReadFile(int fd, void* buffer, nuint count);

    [LibraryImport("libc", EntryPoint = "close")]
    private static partial int Close(int fd);

    [LibraryImport("libc", EntryPoint = "mmap")]
    private static partial nint Mmap(nint address, nuint length, int protection, int flags, int fd, nint offset);

    [LibraryImport("libc", EntryPoint = "mprotect")]
    private static partial int Mprotect(nint address, nuint length, int protection);
}
