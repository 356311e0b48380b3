using System.Diagnostics;
using System.Runtime.InteropServices;

namespace TdxSim.Runtime.Time;

/// <summary>
/// The host's time-stamp counter read with RDTSC, where the kernel itself keeps time by it: x64 Linux with
/// <c>tsc</c> as the current clocksource (the kernel checked that the TSC is invariant and synchronized across CPUs).
/// A read costs about 10 ns here against about 25 ns for <c>clock_gettime</c>, and a #VE round trip of a real-time run
/// that measures contention reads the clock about 17 times. Elsewhere, or with <c>TDXSIM_CLOCK=stopwatch</c>,
/// <see cref="Available"/> is false and <see cref="MonotonicClock"/> uses <see cref="Stopwatch"/>.
/// </summary>
/// <remarks>
/// .NET has no RDTSC intrinsic, so the four instructions (<c>rdtsc; shl rdx, 32; or rax, rdx; ret</c>) are written to
/// one page mapped executable and called through an unmanaged function pointer without a GC transition (they touch
/// neither the stack nor managed memory). The tick length comes from a 5 ms calibration against the Stopwatch, each end a tight bracket of reads.
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

    private static bool KernelKeepsTimeByTsc()
    {
        const string clocksource = "/sys/devices/system/clocksource/clocksource0/current_clocksource";
        return RuntimeInformation.ProcessArchitecture == Architecture.X64
            && OperatingSystem.IsLinux()
            && File.Exists(clocksource)
            && File.ReadAllText(clocksource).Trim() == "tsc";
    }

    [LibraryImport("libc", EntryPoint = "mmap")]
    private static partial nint Mmap(nint address, nuint length, int protection, int flags, int fd, nint offset);

    [LibraryImport("libc", EntryPoint = "mprotect")]
    private static partial int Mprotect(nint address, nuint length, int protection);
}
