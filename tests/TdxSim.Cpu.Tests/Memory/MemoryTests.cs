using TdxSim.Abi;
using TdxSim.Memory;

namespace TdxSim.Cpu.Tests.Memory;

/// <summary>GuestPhysicalMemory: page states, accept, conversions, trusted and host access.</summary>
public sealed class MemoryTests
{
    private const ulong Shared = GuestPhysical.SharedBit;

    [Theory]
    [InlineData(0UL)]
    [InlineData(4097UL)]
    public void Constructor_RejectsBadSizes(ulong size) =>
        Assert.Throws<ArgumentException>(() => new GuestPhysicalMemory(size));

    [Fact]
    public void HugeMemory_IsSparse()
    {
        // 64 GiB of accepted private memory: only the pages written cost anything.
        using var memory = new GuestPhysicalMemory(64UL << 30);
        Assert.True(memory.TryWritePrivate((64UL << 30) - 8, BitConverter.GetBytes(0x1234UL)));
        var buffer = new byte[8];
        Assert.True(memory.TryReadPrivate((64UL << 30) - 8, buffer));
        Assert.Equal(0x1234UL, BitConverter.ToUInt64(buffer));
        Assert.Equal(PageState.Accepted, memory.GetPageState(32UL << 30));
        Assert.Equal(PageState.None, memory.GetPageState(64UL << 30));
    }

    [Fact]
    public void Accept_PendingPage_ZeroesAndAccepts()
    {
        using var memory = new GuestPhysicalMemory(4 << 20, acceptAll: false);
        Assert.Equal(PageState.Pending, memory.GetPageState(0x3000));
        Assert.False(memory.TryReadPrivate(0x3000, new byte[1]));
        Assert.Equal(AcceptResult.Success, memory.Accept(0x3000, 0));
        Assert.Equal(PageState.Accepted, memory.GetPageState(0x3FFF));
        Assert.Equal(AcceptResult.AlreadyAccepted, memory.Accept(0x3000, 0));
        var buffer = new byte[16];
        Assert.True(memory.TryReadPrivate(0x3000, buffer));
        Assert.All(buffer, static b => Assert.Equal(0, b));
    }

    [Fact]
    public void Accept_LargePage_SuccessAlreadyAndMismatch()
    {
        using var memory = new GuestPhysicalMemory(8 << 20, acceptAll: false);
        Assert.Equal(AcceptResult.Success, memory.Accept(0x200000, 1));
        Assert.Equal(AcceptResult.AlreadyAccepted, memory.Accept(0x200000, 1));
        Assert.Equal(AcceptResult.Success, memory.Accept(0x400000, 0));
        Assert.Equal(AcceptResult.SizeMismatch, memory.Accept(0x400000, 1));
    }

    [Theory]
    [InlineData(0x1001UL, 0)]
    [InlineData(0x1000UL, 1)]
    [InlineData(0x1000UL, 2)]
    [InlineData(Shared | 0x1000, 0)]
    [InlineData(0x1000_0000UL, 0)]
    public void Accept_BadOperands_AreInvalid(ulong gpa, int level)
    {
        using var memory = new GuestPhysicalMemory(4 << 20, acceptAll: false);
        Assert.Equal(AcceptResult.InvalidOperand, memory.Accept(gpa, level));
    }

    [Fact]
    public void ConvertToShared_LosesPrivateContents_CreatesZeroedSharedPage()
    {
        using var memory = new GuestPhysicalMemory(1 << 20);
        Assert.True(memory.TryWritePrivate(0x5000, new byte[] { 1, 2, 3 }));
        Assert.Equal(ConversionResult.Success, memory.ConvertToShared(0x5000, 0x1000));
        Assert.Equal(PageState.ConvertedToShared, memory.GetPageState(0x5000));
        Assert.False(memory.TryReadPrivate(0x5000, new byte[1]));
        Assert.True(memory.IsSharedBacked(Shared | 0x5000));
        Assert.False(memory.IsSharedBacked(Shared | 0x6000));
        var buffer = new byte[3];
        Assert.True(memory.TryReadShared(Shared | 0x5000, buffer));
        Assert.Equal(new byte[3], buffer);
        Assert.True(memory.TryWriteShared(0x5000, new byte[] { 9 }));
        Assert.False(memory.TryWriteShared(0x6000, new byte[] { 9 }));
    }

    [Fact]
    public void ConvertToPrivate_DropsSharedBacking_PagesPendingThenZero()
    {
        using var memory = new GuestPhysicalMemory(1 << 20);
        Assert.Equal(ConversionResult.Success, memory.ConvertToShared(0x8000, 0x2000));
        Assert.True(memory.TryWriteShared(0x8000, new byte[] { 7 }));
        Assert.Equal(ConversionResult.Success, memory.ConvertToPrivate(0x8000, 0x2000));
        Assert.False(memory.IsSharedBacked(0x8000));
        Assert.Equal(PageState.Pending, memory.GetPageState(0x9000));
        Assert.Equal(AcceptResult.Success, memory.Accept(0x8000, 0));
        var buffer = new byte[1];
        Assert.True(memory.TryReadPrivate(0x8000, buffer));
        Assert.Equal(0, buffer[0]);
    }

    [Theory]
    [InlineData(0x1001UL, 0x1000UL, ConversionResult.AlignError)]
    [InlineData(0x1000UL, 0x1001UL, ConversionResult.AlignError)]
    [InlineData(0x1000UL, 0UL, ConversionResult.InvalidOperand)]
    [InlineData(Shared | 0x1000, 0x1000UL, ConversionResult.InvalidOperand)]
    [InlineData(0xFF000UL, 0x2000UL, ConversionResult.InvalidOperand)]
    public void Conversions_RejectBadRanges(ulong gpa, ulong size, ConversionResult expected)
    {
        using var memory = new GuestPhysicalMemory(1 << 20);
        Assert.Equal(expected, memory.ConvertToShared(gpa, size));
        Assert.Equal(expected, memory.ConvertToPrivate(gpa, size));
    }

    [Fact]
    public void TrustedAccess_SpanningAPendingPage_FailsWithoutWriting()
    {
        using var memory = new GuestPhysicalMemory(1 << 20, acceptAll: false);
        Assert.Equal(AcceptResult.Success, memory.Accept(0x1000, 0));
        Assert.False(memory.TryWritePrivate(0x1FF0, new byte[32]));
        Assert.False(memory.TryReadPrivate(0x1FF0, new byte[32]));
        Assert.True(memory.TryWritePrivate(0x1FF0, new byte[16]));
        Assert.False(memory.TryReadPrivate(0x100000, new byte[1]));
    }
}
