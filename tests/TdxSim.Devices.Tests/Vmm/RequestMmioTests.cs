using TdxSim.Abi;
using TdxSim.Abi.Messages;
using TdxSim.Devices.Bus;
using TdxSim.Vmm;

namespace TdxSim.Devices.Tests.Vmm;

public class RequestMmioTests
{
    private const ulong Shared = VmmBed.Shared;
    private readonly VmmBed _bed = new();

    [Theory]
    [InlineData(1, 0x12UL)]
    [InlineData(2, 0x1234UL)]
    [InlineData(4, 0x1234_5678UL)]
    [InlineData(8, 0x1234_5678_90AB_CDEFUL)]
    public void TestDeviceScratch_WriteThenRead_ThroughSharedAlias(int size, ulong value)
    {
        Assert.Equal(TdVmcall.Success, _bed.MmioWrite(Shared | 0xFEB0_0000, size, value).VmcallStatus);

        TdVmcallCompleted read = _bed.MmioRead(Shared | 0xFEB0_0000, size);

        Assert.Equal(TdVmcall.Success, read.VmcallStatus);
        Assert.Equal(value, read.Regs[Gpr.R11]);
        Assert.Equal(value, _bed.Devices.MmioTest.Scratch);
    }

    [Fact]
    public void TestDeviceAccessCount_SeesEveryVmcall()
    {
        _bed.MmioWrite(Shared | 0xFEB0_0000, 4, 1);
        _bed.MmioRead(Shared | 0xFEB0_0000, 1);

        Assert.Equal(3UL, _bed.MmioRead(Shared | 0xFEB0_0008, 8).Regs[Gpr.R11]);
    }

    [Fact]
    public void IoApicVersion_ThroughSelectAndWindow()
    {
        _bed.MmioWrite(Shared | 0xFEC0_0000, 4, 0x01);

        Assert.Equal(0x0017_0020UL, _bed.MmioRead(Shared | 0xFEC0_0010, 4).Regs[Gpr.R11]);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(4)]
    [InlineData(8)]
    public void Unclaimed_ReadsAllOnesForSize(int size)
    {
        // verify_mmio_reads uses GPA 0x200000000 | shared: nothing there on the default machine.
        Assert.Equal(AccessSize.Mask(size), _bed.MmioRead(Shared | 0x2_0000_0000, size).Regs[Gpr.R11]);
        Assert.Equal(1, _bed.Devices.MmioBus.UnclaimedReads);
    }

    [Theory]
    [InlineData(0UL, 0UL, Shared | 0xFEB0_0000)]
    [InlineData(3UL, 0UL, Shared | 0xFEB0_0000)]
    [InlineData(10UL, 0UL, Shared | 0xFEB0_0000)] // verify_mmio_reads: size 10
    [InlineData(16UL, 0UL, Shared | 0xFEB0_0000)]
    [InlineData(4UL, 2UL, Shared | 0xFEB0_0000)]
    [InlineData(4UL, 0UL, 0xFEB0_0000UL)] // private GPA
    [InlineData(8UL, 1UL, 0xFFFUL)] // verify_mmio_writes: private, crosses a page
    [InlineData(8UL, 0UL, Shared | 0xFEB0_0FFC)] // shared, but crosses a page
    [InlineData(4UL, 0UL, (1UL << 48) | Shared | 0xFEB0_0000)] // beyond GPAW
    [InlineData(8UL, 0UL, Shared - 4)] // starts private, ends shared
    [InlineData(8UL, 0UL, (1UL << 48) - 4)] // starts shared, ends beyond GPAW
    [InlineData(8UL, 0UL, ulong.MaxValue - 3)] // wraps
    public void BadOperand_IsInvalidOperand_AndNothingIsAccessed(ulong size, ulong direction, ulong gpa)
    {
        VmcallOutcome outcome = _bed.Call(TdVmcallSubfunction.VeRequestMmio, size, direction, gpa, 0x55);

        Assert.Equal(TdVmcall.InvalidOperand, outcome.Reply!.VmcallStatus);
        Assert.Equal(0UL, _bed.Devices.MmioTest.Accesses);
        Assert.Equal(0, _bed.Devices.MmioBus.UnclaimedReads + _bed.Devices.MmioBus.UnclaimedWrites);
    }

    [Fact]
    public void SharedBackedGpa_ReachesMemoryNotTheBus()
    {
        Assert.Equal(TdVmcall.Success, _bed.Complete(TdVmcallSubfunction.MapGpa, Shared | 0x20_0000, 0x1000).VmcallStatus);

        _bed.MmioWrite(Shared | 0x20_0010, 4, 0xCAFE_F00D);
        ulong read = _bed.MmioRead(Shared | 0x20_0012, 2).Regs[Gpr.R11];

        Span<byte> bytes = stackalloc byte[4];
        Assert.True(_bed.Memory.TryReadShared(0x20_0010, bytes));
        Assert.Equal(new byte[] { 0x0D, 0xF0, 0xFE, 0xCA }, bytes.ToArray());
        Assert.Equal(0xCAFEUL, read);
        Assert.Equal(0, _bed.Devices.MmioBus.UnclaimedReads + _bed.Devices.MmioBus.UnclaimedWrites);
    }
}
