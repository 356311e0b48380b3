using TdxSim.Abi;
using TdxSim.Abi.Messages;
using TdxSim.Memory;
using TdxSim.Vmm;

namespace TdxSim.Devices.Tests.Vmm;

public class MapGpaTests
{
    private const ulong Shared = VmmBed.Shared;
    private const ulong MiB = VmmBed.MiB;

    [Fact]
    public void ToShared_ConvertsAndSucceeds()
    {
        var bed = new VmmBed();

        TdVmcallCompleted reply = bed.Complete(TdVmcallSubfunction.MapGpa, Shared | 0x10_0000, 0x2000);

        Assert.Equal(TdVmcall.Success, reply.VmcallStatus);
        Assert.Equal([(true, 0x10_0000UL, 0x2000UL)], bed.Memory.Conversions);
        Assert.True(bed.Memory.IsSharedBacked(0x10_1000));
        Assert.False(bed.Memory.IsSharedBacked(0x10_2000));
    }

    [Fact]
    public void ToPrivate_ConvertsBack()
    {
        var bed = new VmmBed();
        bed.Complete(TdVmcallSubfunction.MapGpa, Shared | 0x10_0000, 0x2000);

        TdVmcallCompleted reply = bed.Complete(TdVmcallSubfunction.MapGpa, 0x10_0000, 0x1000);

        Assert.Equal(TdVmcall.Success, reply.VmcallStatus);
        Assert.Equal((false, 0x10_0000UL, 0x1000UL), bed.Memory.Conversions[^1]);
        Assert.False(bed.Memory.IsSharedBacked(0x10_0000));
        Assert.True(bed.Memory.IsSharedBacked(0x10_1000));
    }

    [Theory]
    [InlineData(Shared | 0x10_0800, 0x1000UL)]
    [InlineData(0x10_0000UL, 0x1800UL)]
    [InlineData(0x10_0001UL, 0UL)]
    public void Unaligned_AlignError_WithStartInR11(ulong start, ulong size)
    {
        var bed = new VmmBed();

        TdVmcallCompleted reply = bed.Complete(TdVmcallSubfunction.MapGpa, start, size);

        Assert.Equal(TdVmcall.AlignError, reply.VmcallStatus);
        Assert.Equal(start, reply.Regs[Gpr.R11]);
        Assert.Empty(bed.Memory.Conversions);
    }

    [Theory]
    [InlineData(Shared | 0x10_0000, 0UL)]                     // zero size
    [InlineData(0x10_0000UL, 0xFFFF_FFFF_FFF0_0000UL)]        // wraps
    [InlineData(0x7FFF_FFFF_F000UL, 0x2000UL)]                // private range crossing into shared space
    [InlineData(Shared | 0x7FFF_FFFF_F000, 0x2000UL)]         // shared range leaving GPAW
    [InlineData((1UL << 48) | 0x10_0000, 0x1000UL)]           // bits above GPAW
    public void BadRange_InvalidOperand_WithStartInR11(ulong start, ulong size)
    {
        var bed = new VmmBed();

        TdVmcallCompleted reply = bed.Complete(TdVmcallSubfunction.MapGpa, start, size);

        Assert.Equal(TdVmcall.InvalidOperand, reply.VmcallStatus);
        Assert.Equal(start, reply.Regs[Gpr.R11]);
        Assert.Empty(bed.Memory.Conversions);
    }

    [Theory]
    [InlineData(Shared | (63 * MiB), 2 * MiB, Shared | (64 * MiB))]
    [InlineData(63 * MiB, 2 * MiB, 64 * MiB)]
    [InlineData(Shared | (100 * MiB), 0x1000UL, Shared | (100 * MiB))]
    public void OutsidePrivateMemory_InvalidOperand_WithFirstOutsideGpaInR11(ulong start, ulong size, ulong failing)
    {
        var bed = new VmmBed();

        TdVmcallCompleted reply = bed.Complete(TdVmcallSubfunction.MapGpa, start, size);

        Assert.Equal(TdVmcall.InvalidOperand, reply.VmcallStatus);
        Assert.Equal(failing, reply.Regs[Gpr.R11]);
        Assert.Empty(bed.Memory.Conversions); // nothing half-done
    }

    [Fact]
    public void LargeRange_ProcessedIn2MiBChunks()
    {
        var bed = new VmmBed();

        TdVmcallCompleted reply = bed.Complete(TdVmcallSubfunction.MapGpa, Shared | MiB, 5 * MiB);

        Assert.Equal(TdVmcall.Success, reply.VmcallStatus);
        Assert.Equal([(true, 1 * MiB, 2 * MiB), (true, 3 * MiB, 2 * MiB), (true, 5 * MiB, 1 * MiB)], bed.Memory.Conversions);
        Assert.Equal(5 * (long)MiB, bed.Vmm.Counters.Snapshot()["mapgpa.bytes_to_shared"]);
    }

    [Theory]
    [InlineData(Shared)]
    [InlineData(0UL)]
    public void RetryOption_GuestLoopProgressesChunkByChunk(ulong sharedBit)
    {
        var bed = new VmmBed(new VmmOptions { VcpuCount = 1, MapGpaRetryAfterEachChunk = true });
        ulong start = sharedBit | MiB;
        ulong end = start + (5 * MiB);
        var progression = new List<(ulong Status, ulong R11)>();

        // The Linux guest loop (reference 2.5): on RETRY, continue from R11, which must lie in [start, end).
        ulong next = start;
        for (int calls = 0; calls < 10; calls++)
        {
            TdVmcallCompleted reply = bed.Complete(TdVmcallSubfunction.MapGpa, next, end - next);
            progression.Add((reply.VmcallStatus, reply.Regs[Gpr.R11]));
            if (reply.VmcallStatus != TdVmcall.Retry)
            {
                break;
            }

            Assert.InRange(reply.Regs[Gpr.R11], next + 1, end - 1);
            next = reply.Regs[Gpr.R11];
        }

        Assert.Equal(
            [(TdVmcall.Retry, sharedBit | (3 * MiB)), (TdVmcall.Retry, sharedBit | (5 * MiB)), (TdVmcall.Success, (ulong)TdVmcallSubfunction.MapGpa)],
            progression);
        Assert.Equal(3, bed.Memory.Conversions.Count);
    }

    [Fact]
    public void RetryOption_SingleChunk_SucceedsAtOnce()
    {
        var bed = new VmmBed(new VmmOptions { VcpuCount = 1, MapGpaRetryAfterEachChunk = true });

        Assert.Equal(TdVmcall.Success, bed.Complete(TdVmcallSubfunction.MapGpa, Shared, 2 * MiB).VmcallStatus);
    }

    [Theory]
    [InlineData(ConversionResult.InvalidOperand, TdVmcall.InvalidOperand)]
    [InlineData(ConversionResult.AlignError, TdVmcall.AlignError)]
    public void MemoryRefusesAChunk_StatusWithThatChunkInR11(ConversionResult failure, ulong status)
    {
        var bed = new VmmBed();
        bed.Memory.FailAtGpa = 3 * MiB;
        bed.Memory.FailWith = failure;

        TdVmcallCompleted reply = bed.Complete(TdVmcallSubfunction.MapGpa, Shared | MiB, 5 * MiB);

        Assert.Equal(status, reply.VmcallStatus);
        Assert.Equal(Shared | (3 * MiB), reply.Regs[Gpr.R11]);
    }

    [Fact]
    public void RealMemory_SharedThenPrivate_ContentsLost_AndReacceptedPageReadsZero()
    {
        using var memory = new GuestPhysicalMemory(16 * MiB);
        var events = new DeviceEventCollector();
        MachineDevices devices = MachineDevices.CreateDefault(new MemoryByteSink(), events);
        var vmm = new VmmCore(new VmmOptions { VcpuCount = 1 }, devices.PortBus, devices.MmioBus, new TdxSim.Vmm.Memory.GuestPhysicalMemoryHost(memory), events);
        const ulong page = 0x40_0000;
        Assert.True(memory.TryWritePrivate(page, [1, 2, 3, 4]));

        Assert.Equal(TdVmcall.Success, vmm.Handle(VmmBed.Request(0x10001, Shared | page, 0x1000)).Reply!.VmcallStatus);
        Span<byte> four = stackalloc byte[4];
        Assert.True(memory.TryReadShared(Shared | page, four));
        Assert.Equal(new byte[4], four.ToArray()); // private contents did not leak into the shared page

        Assert.Equal(TdVmcall.Success, vmm.Handle(VmmBed.Request(48, 4, 1, Shared | page, 0xABCD)).Reply!.VmcallStatus);
        Assert.True(memory.TryReadShared(page, four));
        Assert.Equal(new byte[] { 0xCD, 0xAB, 0, 0 }, four.ToArray());

        Assert.Equal(TdVmcall.Success, vmm.Handle(VmmBed.Request(0x10001, page, 0x1000)).Reply!.VmcallStatus);
        Assert.Equal(PageState.Pending, memory.GetPageState(page));
        Assert.Equal(AcceptResult.Success, memory.Accept(page, 0));
        Assert.True(memory.TryReadPrivate(page, four));
        Assert.Equal(new byte[4], four.ToArray());
    }
}
