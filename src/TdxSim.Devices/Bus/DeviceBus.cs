using System.Diagnostics;
using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;
using TdxSim.Abi;

namespace TdxSim.Devices.Bus;

/// <summary>
/// An address space of devices: one instance for I/O ports, one for MMIO guest-physical addresses (without the
/// shared bit). Ranges are kept sorted by base; a lookup is a binary search over a flat array, takes the last
/// range whose base is at most the address and checks the address is inside it (vm-device's <c>BusRange</c>
/// ordering). Reads of addresses nobody claims return all ones for the access size; writes to them are ignored.
/// </summary>
/// <remarks>
/// <para>
/// Routing: an access goes to the range that contains its <em>first</em> address, whole, even when it runs past
/// the end of the range (Firecracker and Cloud Hypervisor route the same way, and KVM reports port I/O to user
/// space as one port plus a size). A 4-byte OUT to port 0x30 is therefore one access to the device at 0x30 even
/// though a different device owns port 0x31. Each device decides what a wide or range-crossing access means.
/// </para>
/// <para>
/// Thread safety and lock ordering: the map of ranges is immutable; <see cref="Register"/> builds a new map and
/// publishes it atomically, so lookups take no lock. Each registered device has its own lock, which the bus holds
/// for the whole device call; one device registered at several ranges of this bus shares one lock, and a device
/// that needs its lock for host-side calls too offers it through <see cref="IGuardedIoDevice"/> so the bus takes that
/// very lock. Lock order is: (1) the bus's per-device lock, then (2) any other lock inside the device. A device
/// never calls back into a bus, and <see cref="IMachineEvents"/> and <see cref="IByteSink"/>
/// implementations, which devices call while the bus lock is held, must not either: they record or forward and
/// return. Accesses to different devices never contend. A device must be registered on one bus only.
/// </para>
/// <para>The access path allocates nothing.</para>
/// </remarks>
public sealed class DeviceBus
{
    /// <summary>Number of I/O ports on x86 (a 16-bit port number).</summary>
    public const ulong PortSpaceSize = 0x1_0000;

    private readonly Lock _registrationLock = new();
    private Map _map = Map.Empty;
    private long _unclaimedReads;
    private long _unclaimedWrites;
    private int _holdSampleInterval = 1;

    /// <summary>Creates an empty bus for addresses <c>[0, addressLimit)</c>.</summary>
    /// <param name="name">Name used in diagnostics, e.g. <c>port</c> or <c>mmio</c>.</param>
    /// <param name="addressLimit">One past the highest address a range may cover.</param>
    public DeviceBus(string name, ulong addressLimit)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        ArgumentOutOfRangeException.ThrowIfZero(addressLimit);
        Name = name;
        AddressLimit = addressLimit;
    }

    /// <summary>A bus for the 64 Ki x86 I/O ports.</summary>
    public static DeviceBus CreatePortBus() => new("port", PortSpaceSize);

    /// <summary>A bus for MMIO: guest-physical addresses below the shared bit (the VMM strips the shared bit first).</summary>
    public static DeviceBus CreateMmioBus() => new("mmio", GuestPhysical.SharedBit);

    /// <summary>Name used in diagnostics.</summary>
    public string Name { get; }

    /// <summary>One past the highest address a range may cover.</summary>
    public ulong AddressLimit { get; }

    /// <summary>The registered ranges, sorted by base.</summary>
    public IReadOnlyList<BusRange> Ranges => Volatile.Read(ref _map).Ranges;

    /// <summary>Reads of addresses no device claims.</summary>
    public long UnclaimedReads => Interlocked.Read(ref _unclaimedReads);

    /// <summary>Writes to addresses no device claims.</summary>
    public long UnclaimedWrites => Interlocked.Read(ref _unclaimedWrites);

    /// <summary>Registers <paramref name="device"/> for <c>[baseAddress, baseAddress + length)</c>.</summary>
    /// <exception cref="ArgumentException">The range is empty, leaves the bus, overlaps a registered range, or another
    /// device already uses the same name.</exception>
    public void Register(ulong baseAddress, ulong length, IIoDevice device)
    {
        ArgumentNullException.ThrowIfNull(device);
        if (length == 0)
        {
            throw new ArgumentException($"{Name} bus: device '{device.Name}' at 0x{baseAddress:X} has an empty range", nameof(length));
        }

        if (baseAddress >= AddressLimit || length > AddressLimit - baseAddress)
        {
            throw new ArgumentException(
                $"{Name} bus: device '{device.Name}' range [0x{baseAddress:X}, +0x{length:X}) leaves the bus (addresses below 0x{AddressLimit:X})",
                nameof(baseAddress));
        }

        lock (_registrationLock)
        {
            _map = _map.With(Name, new BusRange(baseAddress, length, device));
        }
    }

    /// <summary>Reads <paramref name="size"/> bytes at <paramref name="address"/>; all ones for the size when no device claims it.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="size"/> is not 1, 2, 4 or 8 (a caller bug: the VMM validates guest sizes).</exception>
    public ulong Read(ulong address, int size)
    {
        if (!AccessSize.IsValid(size))
        {
            ThrowBadSize(size);
        }

        ulong mask = AccessSize.Mask(size);
        Map map = Volatile.Read(ref _map);
        int i = map.Find(address);
        if (i < 0)
        {
            Interlocked.Increment(ref _unclaimedReads);
            return mask;
        }

        Slot slot = map.Slots[i];
        ulong offset = address - map.Bases[i];
        if (TimeAccesses)
        {
            long held = slot.EnterTimed(_holdSampleInterval);
            try
            {
                slot.Reads++;
                return slot.Device.Read(offset, size) & mask;
            }
            finally
            {
                slot.ExitTimed(held);
            }
        }

        lock (slot.Gate)
        {
            slot.Reads++;
            return slot.Device.Read(offset, size) & mask;
        }
    }

    /// <summary>Writes the low <paramref name="size"/> bytes of <paramref name="value"/> at <paramref name="address"/>; ignored when no device claims it.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="size"/> is not 1, 2, 4 or 8.</exception>
    public void Write(ulong address, int size, ulong value)
    {
        if (!AccessSize.IsValid(size))
        {
            ThrowBadSize(size);
        }

        Map map = Volatile.Read(ref _map);
        int i = map.Find(address);
        if (i < 0)
        {
            Interlocked.Increment(ref _unclaimedWrites);
            return;
        }

        Slot slot = map.Slots[i];
        ulong offset = address - map.Bases[i];
        if (TimeAccesses)
        {
            long held = slot.EnterTimed(_holdSampleInterval);
            try
            {
                slot.Writes++;
                slot.Device.Write(offset, size, value & AccessSize.Mask(size));
            }
            finally
            {
                slot.ExitTimed(held);
            }

            return;
        }

        lock (slot.Gate)
        {
            slot.Writes++;
            slot.Device.Write(offset, size, value & AccessSize.Mask(size));
        }
    }

    /// <summary>The device that would receive an access starting at <paramref name="address"/>, and the offset it would see.</summary>
    public bool TryResolve(ulong address, [NotNullWhen(true)] out IIoDevice? device, out ulong offset)
    {
        Map map = Volatile.Read(ref _map);
        int i = map.Find(address);
        if (i < 0)
        {
            device = null;
            offset = 0;
            return false;
        }

        device = map.Slots[i].Device;
        offset = address - map.Bases[i];
        return true;
    }

    /// <summary>Access counts per device, in registration-name order (each device once).</summary>
    public IReadOnlyList<DeviceCounter> GetCounters()
    {
        Map map = Volatile.Read(ref _map);
        var result = new List<DeviceCounter>();
        foreach (Slot slot in map.Slots.Distinct())
        {
            lock (slot.Gate)
            {
                result.Add(new DeviceCounter(slot.Device.Name, slot.Reads, slot.Writes));
            }
        }

        result.Sort((a, b) => string.CompareOrdinal(a.Name, b.Name));
        return result;
    }

    /// <summary>
    /// Time every access's wait for its device's lock and the time the lock is held (for the contention report), at two
    /// or three clock reads per access. Off by default.
    /// </summary>
    public bool TimeAccesses { get; set; }

    /// <summary>
    /// While <see cref="TimeAccesses"/> is on, the hold of every this-many-th access to a device is timed (two clock
    /// reads), and the device's held time is that sample's sum scaled by accesses over timed ones; accesses,
    /// contended ones and lock waits are counted for every access (a wait is timed only when the lock was taken, so
    /// an uncontended access costs no clock read). 1, the default, times every hold.
    /// </summary>
    public int HoldSampleInterval
    {
        get => _holdSampleInterval;
        set
        {
            ArgumentOutOfRangeException.ThrowIfLessThan(value, 1);
            _holdSampleInterval = value;
        }
    }

    /// <summary>Per device, how its lock was waited for and held while <see cref="TimeAccesses"/> was on, in name order.</summary>
    public IReadOnlyList<DeviceLockTimes> GetLockTimes()
    {
        Map map = Volatile.Read(ref _map);
        var result = new List<DeviceLockTimes>();
        foreach (Slot slot in map.Slots.Distinct())
        {
            lock (slot.Gate)
            {
                if (slot.TimedAccesses > 0)
                {
                    long held = slot.HeldSamples == slot.TimedAccesses || slot.HeldSamples == 0
                        ? slot.HeldNs
                        : (long)Math.Round((double)slot.HeldNs * slot.TimedAccesses / slot.HeldSamples);
                    result.Add(new DeviceLockTimes(slot.Device.Name, slot.TimedAccesses, slot.Contended, held, slot.WaitMaxNs, [.. slot.WaitBuckets]));
                }
            }
        }

        result.Sort((a, b) => string.CompareOrdinal(a.Name, b.Name));
        return result;
    }

    [DoesNotReturn]
    private static void ThrowBadSize(int size) =>
        throw new ArgumentOutOfRangeException(nameof(size), size, "access size must be 1, 2, 4 or 8 bytes");

    /// <summary>A device with its lock and counters. Counters change only under <see cref="Gate"/>.</summary>
    private sealed class Slot(IIoDevice device)
    {
        public readonly IIoDevice Device = device;
        public readonly Lock Gate = device is IGuardedIoDevice guarded ? guarded.Gate : new();
        public long Reads;
        public long Writes;

        // Lock timing (only under the gate, except the wait itself).
        public long TimedAccesses;
        public long Contended;
        public long HeldNs;
        public long HeldSamples;
        public int UntilHeldSample;
        public long WaitMaxNs;
        public readonly long[] WaitBuckets = new long[DeviceLockTimes.Buckets];

        /// <summary>
        /// Takes the gate, timing a wait if it is held; returns the timestamp it was taken at if this access's hold is
        /// one of the sample (one in <paramref name="holdSampleInterval"/>), else -1.
        /// </summary>
        public long EnterTimed(int holdSampleInterval)
        {
            long waited = 0;
            if (!Gate.TryEnter())
            {
                long from = Stopwatch.GetTimestamp();
                Gate.Enter();
                waited = (long)Stopwatch.GetElapsedTime(from).TotalNanoseconds;
                Contended++;
            }

            TimedAccesses++;
            WaitBuckets[DeviceLockTimes.BucketOf(waited)]++;
            if (waited > WaitMaxNs)
            {
                WaitMaxNs = waited;
            }

            if (--UntilHeldSample > 0)
            {
                return -1;
            }

            UntilHeldSample = holdSampleInterval;
            HeldSamples++;
            return Stopwatch.GetTimestamp();
        }

        public void ExitTimed(long enteredAt)
        {
            if (enteredAt >= 0)
            {
                HeldNs += (long)Stopwatch.GetElapsedTime(enteredAt).TotalNanoseconds;
            }

            Gate.Exit();
        }
    }

    /// <summary>An immutable, sorted snapshot of the ranges: parallel arrays for a cache-friendly binary search.</summary>
    private sealed class Map
    {
        public static readonly Map Empty = new([], [], [], []);

        public readonly ulong[] Bases;
        public readonly ulong[] Lengths;
        public readonly Slot[] Slots;
        public readonly BusRange[] Ranges;

        private Map(ulong[] bases, ulong[] lengths, Slot[] slots, BusRange[] ranges)
        {
            Bases = bases;
            Lengths = lengths;
            Slots = slots;
            Ranges = ranges;
        }

        /// <summary>Index of the range containing <paramref name="address"/>, or -1.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public int Find(ulong address)
        {
            ulong[] bases = Bases;
            int lo = 0;
            int hi = bases.Length - 1;
            int found = -1;
            while (lo <= hi)
            {
                int mid = (int)((uint)(lo + hi) >> 1);
                if (bases[mid] <= address)
                {
                    found = mid;
                    lo = mid + 1;
                }
                else
                {
                    hi = mid - 1;
                }
            }

            return found >= 0 && address - bases[found] < Lengths[found] ? found : -1;
        }

        /// <summary>A new map with <paramref name="range"/> added.</summary>
        public Map With(string busName, BusRange range)
        {
            int insertAt = 0;
            while (insertAt < Bases.Length && Bases[insertAt] < range.Base)
            {
                insertAt++;
            }

            if (insertAt > 0 && Ranges[insertAt - 1].Last >= range.Base)
            {
                ThrowOverlap(busName, range, Ranges[insertAt - 1]);
            }

            if (insertAt < Bases.Length && Bases[insertAt] <= range.Last)
            {
                ThrowOverlap(busName, range, Ranges[insertAt]);
            }

            Slot? slot = null;
            foreach (Slot existing in Slots)
            {
                if (ReferenceEquals(existing.Device, range.Device))
                {
                    slot = existing;
                }
                else if (existing.Device.Name == range.Device.Name)
                {
                    throw new ArgumentException(
                        $"{busName} bus: another device is already named '{range.Device.Name}'; names identify devices in counters",
                        nameof(range));
                }
            }

            slot ??= new Slot(range.Device);
            return new Map(
                Insert(Bases, insertAt, range.Base),
                Insert(Lengths, insertAt, range.Length),
                Insert(Slots, insertAt, slot),
                Insert(Ranges, insertAt, range));
        }

        private static T[] Insert<T>(T[] source, int index, T item)
        {
            var result = new T[source.Length + 1];
            Array.Copy(source, 0, result, 0, index);
            result[index] = item;
            Array.Copy(source, index, result, index + 1, source.Length - index);
            return result;
        }

        [DoesNotReturn]
        private static void ThrowOverlap(string busName, BusRange added, BusRange existing) =>
            throw new ArgumentException($"{busName} bus: {added} overlaps {existing}", nameof(added));
    }
}
