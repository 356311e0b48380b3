namespace TdxSim.Devices.Bus;

/// <summary>Access counts of one device on a bus, for the final-state dump.</summary>
/// <param name="Name">The device's <see cref="IIoDevice.Name"/>.</param>
/// <param name="Reads">Reads the bus routed to the device.</param>
/// <param name="Writes">Writes the bus routed to the device.</param>
public readonly record struct DeviceCounter(string Name, long Reads, long Writes)
{
    /// <summary>Reads plus writes.</summary>
    public long Accesses => Reads + Writes;
}

/// <summary>
/// How a device's lock was waited for and held (<see cref="DeviceBus.TimeAccesses"/>): per-vCPU VMM threads reaching
/// one device contend here. Waits are kept in power-of-two buckets, so a percentile is within a factor of two.
/// </summary>
/// <param name="Name">The device's name.</param>
/// <param name="Accesses">Accesses timed.</param>
/// <param name="Contended">Accesses that found the lock held and waited.</param>
/// <param name="HeldNs">Total time the lock was held, ns.</param>
/// <param name="WaitMaxNs">Longest wait, ns.</param>
/// <param name="WaitBuckets">Waits by bucket: 0 for none, then [2^(i-1), 2^i) ns.</param>
public sealed record DeviceLockTimes(string Name, long Accesses, long Contended, long HeldNs, long WaitMaxNs, IReadOnlyList<long> WaitBuckets)
{
    /// <summary>Buckets of <see cref="WaitBuckets"/>.</summary>
    public const int Buckets = 48;

    /// <summary>The bucket of a wait of <paramref name="ns"/>.</summary>
    public static int BucketOf(long ns) => ns <= 0 ? 0 : Math.Min(Buckets - 1, 64 - System.Numerics.BitOperations.LeadingZeroCount((ulong)ns));

    /// <summary>The wait at <paramref name="percentile"/> (the upper edge of its bucket, capped at the maximum).</summary>
    public long WaitPercentile(double percentile)
    {
        long total = WaitBuckets.Sum();
        if (total == 0)
        {
            return 0;
        }

        long rank = Math.Max(1, (long)Math.Ceiling(percentile / 100 * total));
        long seen = 0;
        for (int i = 0; i < WaitBuckets.Count; i++)
        {
            seen += WaitBuckets[i];
            if (seen >= rank)
            {
                return i == 0 ? 0 : Math.Min((1L << i) - 1, WaitMaxNs);
            }
        }

        return WaitMaxNs;
    }
}
