using TdxSim.Devices.Bus;

namespace TdxSim.Devices.Tests.Bus;

public class DeviceBusTests
{
    [Theory]
    [InlineData(1, 0xFFUL)]
    [InlineData(2, 0xFFFFUL)]
    [InlineData(4, 0xFFFF_FFFFUL)]
    [InlineData(8, 0xFFFF_FFFF_FFFF_FFFFUL)]
    public void Read_Unclaimed_ReturnsAllOnesForSize(int size, ulong expected)
    {
        var bus = DeviceBus.CreatePortBus();
        bus.Register(0x100, 4, new RecordingDevice("d"));

        Assert.Equal(expected, bus.Read(0x60, size));
        Assert.Equal(expected, bus.Read(0x104, size));
        Assert.Equal(2, bus.UnclaimedReads);
    }

    [Fact]
    public void Write_Unclaimed_IsIgnoredAndCounted()
    {
        var bus = DeviceBus.CreatePortBus();
        var device = new RecordingDevice("d");
        bus.Register(0x100, 4, device);

        bus.Write(0xFF, 1, 0x12);

        Assert.Empty(device.Accesses);
        Assert.Equal(1, bus.UnclaimedWrites);
    }

    [Theory]
    [InlineData(0x100UL, 0UL)]
    [InlineData(0x101UL, 1UL)]
    [InlineData(0x107UL, 7UL)]
    public void Read_InsideRange_DeviceSeesOffset(ulong address, ulong offset)
    {
        var bus = DeviceBus.CreatePortBus();
        var device = new RecordingDevice("d");
        bus.Register(0x100, 8, device);

        bus.Read(address, 1);

        Assert.Equal((false, offset, 1, 0UL), Assert.Single(device.Accesses));
    }

    [Fact]
    public void Read_JustOutsideBothEnds_IsUnclaimed()
    {
        var bus = DeviceBus.CreatePortBus();
        var device = new RecordingDevice("d");
        bus.Register(0x100, 8, device);

        Assert.Equal(0xFFUL, bus.Read(0xFF, 1));
        Assert.Equal(0xFFUL, bus.Read(0x108, 1));
        Assert.Empty(device.Accesses);
    }

    [Fact]
    public void Access_SpanningRangeEnd_GoesWholeToDeviceOfFirstAddress()
    {
        var bus = DeviceBus.CreatePortBus();
        var first = new RecordingDevice("first");
        var second = new RecordingDevice("second");
        bus.Register(0x30, 1, first);
        bus.Register(0x31, 1, second);

        bus.Write(0x30, 4, 0xAABB_CCDD);
        ulong read = bus.Read(0x30, 4);

        Assert.Equal([(true, 0UL, 4, 0xAABB_CCDDUL), (false, 0UL, 4, 0UL)], first.Accesses);
        Assert.Empty(second.Accesses);
        Assert.Equal(0x5566_7788UL, read); // masked to the access size
    }

    [Fact]
    public void Access_StartingUnclaimedAndRunningIntoRange_IsUnclaimed()
    {
        var bus = DeviceBus.CreatePortBus();
        var device = new RecordingDevice("d");
        bus.Register(0x100, 8, device);

        Assert.Equal(0xFFFF_FFFFUL, bus.Read(0xFE, 4));
        Assert.Empty(device.Accesses);
    }

    [Theory]
    [InlineData(1, 0xDDUL)]
    [InlineData(2, 0xCCDDUL)]
    [InlineData(4, 0xAABB_CCDDUL)]
    [InlineData(8, 0x1122_3344_AABB_CCDDUL)]
    public void Write_ValueMaskedToSize(int size, ulong expected)
    {
        var bus = DeviceBus.CreateMmioBus();
        var device = new RecordingDevice("d");
        bus.Register(0x1000, 0x1000, device);

        bus.Write(0x1000, size, 0x1122_3344_AABB_CCDD);

        Assert.Equal(expected, Assert.Single(device.Accesses).Value);
    }

    [Theory]
    [InlineData(0x0F8UL, 0x10UL)] // ends inside
    [InlineData(0x104UL, 0x2UL)]  // inside
    [InlineData(0x107UL, 0x10UL)] // starts at last address
    [InlineData(0x0F0UL, 0x100UL)] // covers
    public void Register_Overlap_ThrowsNamingBothDevices(ulong baseAddress, ulong length)
    {
        var bus = DeviceBus.CreatePortBus();
        bus.Register(0x100, 8, new RecordingDevice("existing"));

        var e = Assert.Throws<ArgumentException>(() => bus.Register(baseAddress, length, new RecordingDevice("added")));

        Assert.Contains("existing", e.Message, StringComparison.Ordinal);
        Assert.Contains("added", e.Message, StringComparison.Ordinal);
        Assert.Contains("overlaps", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Register_AdjacentRanges_AreAccepted()
    {
        var bus = DeviceBus.CreatePortBus();
        var a = new RecordingDevice("a");
        var b = new RecordingDevice("b");
        var c = new RecordingDevice("c");
        bus.Register(0x100, 8, b);
        bus.Register(0x108, 8, c);
        bus.Register(0x0F8, 8, a);

        bus.Read(0xFF, 1);
        bus.Read(0x100, 1);
        bus.Read(0x108, 1);

        Assert.Single(a.Accesses);
        Assert.Single(b.Accesses);
        Assert.Single(c.Accesses);
        Assert.Equal([0x0F8UL, 0x100UL, 0x108UL], bus.Ranges.Select(r => r.Base));
    }

    [Fact]
    public void Register_EmptyOrOutsideBus_Throws()
    {
        var bus = DeviceBus.CreatePortBus();

        Assert.Throws<ArgumentException>(() => bus.Register(0x100, 0, new RecordingDevice("empty")));
        Assert.Throws<ArgumentException>(() => bus.Register(0xFFFF, 2, new RecordingDevice("past-end")));
        Assert.Throws<ArgumentException>(() => bus.Register(0x1_0000, 1, new RecordingDevice("outside")));
        bus.Register(0xFFFF, 1, new RecordingDevice("last-port"));
    }

    [Fact]
    public void Register_TwoDevicesWithOneName_Throws()
    {
        var bus = DeviceBus.CreatePortBus();
        bus.Register(0x100, 1, new RecordingDevice("same"));

        Assert.Throws<ArgumentException>(() => bus.Register(0x200, 1, new RecordingDevice("same")));
    }

    [Fact]
    public void Register_OneDeviceAtTwoRanges_SharesCounters()
    {
        var bus = DeviceBus.CreatePortBus();
        var device = new RecordingDevice("twice");
        bus.Register(0x100, 1, device);
        bus.Register(0x200, 1, device);

        bus.Read(0x100, 1);
        bus.Write(0x200, 1, 0);
        bus.Write(0x200, 1, 0);

        Assert.Equal(new DeviceCounter("twice", 1, 2), Assert.Single(bus.GetCounters()));
        Assert.Equal([(false, 0UL, 1, 0UL), (true, 0UL, 1, 0UL), (true, 0UL, 1, 0UL)], device.Accesses);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(3)]
    [InlineData(16)]
    public void Access_BadSize_Throws(int size)
    {
        var bus = DeviceBus.CreatePortBus();

        Assert.Throws<ArgumentOutOfRangeException>(() => bus.Read(0x100, size));
        Assert.Throws<ArgumentOutOfRangeException>(() => bus.Write(0x100, size, 0));
    }

    [Fact]
    public void Lookup_ManyRangesInRandomOrder_FindsEach()
    {
        var bus = DeviceBus.CreateMmioBus();
        var random = new Random(7);
        var devices = Enumerable.Range(0, 200).Select(i => new RecordingDevice($"d{i}")).ToArray();
        foreach (int i in Enumerable.Range(0, 200).OrderBy(_ => random.Next()))
        {
            bus.Register((ulong)i * 0x3000, 0x1000, devices[i]);
        }

        for (int i = 0; i < 200; i++)
        {
            ulong b = (ulong)i * 0x3000;
            Assert.True(bus.TryResolve(b + 0xFFF, out IIoDevice? found, out ulong offset));
            Assert.Same(devices[i], found);
            Assert.Equal(0xFFFUL, offset);
            Assert.False(bus.TryResolve(b + 0x1000, out _, out _));
            Assert.False(bus.TryResolve(b + 0x2FFF, out _, out _));
        }
    }

    [Fact]
    public void Access_FromManyThreads_DeviceNeverEnteredConcurrently()
    {
        var bus = DeviceBus.CreatePortBus();
        var device = new ReentrancyDetector();
        bus.Register(0x100, 1, device);

        Parallel.For(0, 4, _ =>
        {
            for (int i = 0; i < 20_000; i++)
            {
                bus.Write(0x100, 1, 1);
            }
        });

        Assert.False(device.Overlapped);
        Assert.Equal(80_000, device.Count);
        Assert.Equal(80_000, Assert.Single(bus.GetCounters()).Writes);
    }

    [Fact]
    public void Access_SteadyState_AllocatesNothing()
    {
        var bus = DeviceBus.CreatePortBus();
        for (ulong i = 0; i < 16; i++)
        {
            bus.Register(i * 0x10, 8, new RecordingDevice($"d{i}") { });
        }

        var quiet = new QuietDevice();
        bus.Register(0x3F8, 8, quiet);
        bus.Read(0x3F8, 1);
        bus.Write(0x3F8, 1, 0);
        bus.Read(0x8000, 4);

        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 10_000; i++)
        {
            bus.Write(0x3F8, 1, (ulong)i);
            bus.Read(0x3FD, 1);
            bus.Read(0x8000, 4);
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }

    private sealed class QuietDevice : IIoDevice
    {
        private ulong _last;

        public string Name => "quiet";

        public ulong Read(ulong offset, int size) => _last + offset;

        public void Write(ulong offset, int size, ulong value) => _last = value;
    }

    private sealed class ReentrancyDetector : IIoDevice
    {
        private int _inside;

        public bool Overlapped { get; private set; }

        public int Count { get; private set; }

        public string Name => "detector";

        public ulong Read(ulong offset, int size) => 0;

        public void Write(ulong offset, int size, ulong value)
        {
            if (Interlocked.Exchange(ref _inside, 1) != 0)
            {
                Overlapped = true;
            }

            Count++;
            Thread.SpinWait(5);
            Volatile.Write(ref _inside, 0);
        }
    }
}
