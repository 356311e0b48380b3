using System.Buffers.Binary;
using System.Security.Cryptography;
using TdxSim.Abi;
using TdxSim.Abi.Messages;
using TdxSim.Vmm;
using TdxSim.Vmm.Quote;

namespace TdxSim.Devices.Tests.Vmm;

public class GetQuoteTests
{
    private const ulong Shared = VmmBed.Shared;
    private const ulong Buffer = 0x30_0000;
    private readonly VmmBed _bed = new();

    private void PrepareBuffer(ulong pages, ulong version = 1, uint inLength = 1024)
    {
        Assert.Equal(TdVmcall.Success, _bed.Complete(TdVmcallSubfunction.MapGpa, Shared | Buffer, pages * 0x1000).VmcallStatus);
        var header = new byte[24];
        BinaryPrimitives.WriteUInt64LittleEndian(header, version);
        BinaryPrimitives.WriteUInt32LittleEndian(header.AsSpan(16), inLength);
        Assert.True(_bed.Memory.TryWriteShared(Buffer, header));
        Assert.True(_bed.Memory.TryWriteShared(Buffer + 24, Report(Math.Min(inLength, (uint)(pages * 0x1000) - 24))));
    }

    private static byte[] Report(uint length) => [.. Enumerable.Range(0, (int)length).Select(i => (byte)(i * 7))];

    private ulong ReadU64(ulong gpa)
    {
        Span<byte> b = stackalloc byte[8];
        Assert.True(_bed.Memory.TryReadShared(gpa, b));
        return BinaryPrimitives.ReadUInt64LittleEndian(b);
    }

    private uint ReadU32(ulong gpa)
    {
        Span<byte> b = stackalloc byte[4];
        Assert.True(_bed.Memory.TryReadShared(gpa, b));
        return BinaryPrimitives.ReadUInt32LittleEndian(b);
    }

    [Fact]
    public void Request_InFlightAtOnce_ThenCompletedWithSyntheticQuote()
    {
        PrepareBuffer(pages: 2);

        VmcallOutcome outcome = _bed.Call(TdVmcallSubfunction.GetQuote, Shared | Buffer, 0x2000, vcpu: 1);

        Assert.Equal(TdVmcall.Success, outcome.Reply!.VmcallStatus);
        Assert.Equal(new QuoteRequest(1, Shared | Buffer, 0x2000), outcome.PendingQuote);
        Assert.Equal(0xFFFF_FFFF_FFFF_FFFFUL, ReadU64(Buffer + 8));

        QuoteCompleted done = _bed.Vmm.CompleteQuote(outcome.PendingQuote!);

        Assert.Equal(new QuoteCompleted(1, Shared | Buffer, 0, null), done);
        Assert.Equal(0UL, ReadU64(Buffer + 8));
        uint outLength = ReadU32(Buffer + 20);
        Assert.Equal(1024u + 44, outLength);
        var quote = new byte[outLength];
        Assert.True(_bed.Memory.TryReadShared(Buffer + 24, quote));

        // An independent check of the layout: magic, length, report, SHA-256 over all of it.
        byte[] report = Report(1024);
        Assert.Equal("TDXSIMQ1"u8.ToArray(), quote[..8]);
        Assert.Equal(1024u, BinaryPrimitives.ReadUInt32LittleEndian(quote.AsSpan(8)));
        Assert.Equal(report, quote[12..1036]);
        Assert.Equal(SHA256.HashData(quote.AsSpan(0, 1036)), quote[1036..]);
        Assert.True(SyntheticQuote.TryVerify(quote, out byte[] embedded));
        Assert.Equal(report, embedded);
        Assert.Equal(1, _bed.Vmm.Counters.Snapshot()["getquote.completed"]);
    }

    [Fact]
    public void Completion_NamesTheRegisteredNotifyVector()
    {
        PrepareBuffer(pages: 1);
        _bed.Complete(TdVmcallSubfunction.SetupEventNotifyInterrupt, 0x20, vcpu: 2);

        QuoteRequest q2 = _bed.Call(TdVmcallSubfunction.GetQuote, Shared | Buffer, 0x1000, vcpu: 2).PendingQuote!;
        QuoteRequest q0 = _bed.Call(TdVmcallSubfunction.GetQuote, Shared | Buffer, 0x1000, vcpu: 0).PendingQuote!;

        Assert.Equal((byte?)0x20, _bed.Vmm.CompleteQuote(q2).NotifyVector);
        Assert.Null(_bed.Vmm.CompleteQuote(q0).NotifyVector);
    }

    [Theory]
    [InlineData(Buffer, 0x1000UL)]              // private GPA
    [InlineData(Shared | Buffer | 0x800, 0x1000UL)] // unaligned GPA
    [InlineData(Shared | Buffer, 0UL)]          // empty
    [InlineData(Shared | Buffer, 0x1800UL)]     // not a 4 KiB multiple
    [InlineData(Shared | Buffer, 0x2000UL)]     // second page is not shared
    [InlineData(Shared | 0x40_0000, 0x1000UL)]  // no shared page at all
    [InlineData((1UL << 48) | Shared | Buffer, 0x1000UL)] // beyond GPAW
    [InlineData(Shared | Buffer, 0xFFFF_FFFF_FFFF_F000UL)] // absurd size
    public void BadBuffer_InvalidOperand_NothingWritten(ulong gpa, ulong size)
    {
        PrepareBuffer(pages: 1);

        VmcallOutcome outcome = _bed.Call(TdVmcallSubfunction.GetQuote, gpa, size);

        Assert.Equal(TdVmcall.InvalidOperand, outcome.Reply!.VmcallStatus);
        Assert.Null(outcome.PendingQuote);
        Assert.Equal(0UL, ReadU64(Buffer + 8));
    }

    [Theory]
    [InlineData(1UL, 0u)]         // no report
    [InlineData(1UL, 0x1000u - 23)] // report runs past the buffer
    [InlineData(2UL, 1024u)]      // unknown header version
    [InlineData(1UL, 0x1000u - 24)] // report fits, but the quote does not
    public void BadHeader_CompletesWithErrorStatus(ulong version, uint inLength)
    {
        PrepareBuffer(pages: 1, version, inLength);
        QuoteRequest q = _bed.Call(TdVmcallSubfunction.GetQuote, Shared | Buffer, 0x1000).PendingQuote!;

        QuoteCompleted done = _bed.Vmm.CompleteQuote(q);

        Assert.Equal(0x8000_0000_0000_0000UL, done.QuoteStatus);
        Assert.Equal(0x8000_0000_0000_0000UL, ReadU64(Buffer + 8));
        Assert.Equal(0u, ReadU32(Buffer + 20));
        Assert.Equal(1, _bed.Vmm.Counters.Snapshot()["getquote.failed"]);
    }

    [Fact]
    public void BufferConvertedBackBeforeCompletion_ErrorEventNoWrite()
    {
        PrepareBuffer(pages: 1);
        QuoteRequest q = _bed.Call(TdVmcallSubfunction.GetQuote, Shared | Buffer, 0x1000).PendingQuote!;
        _bed.Complete(TdVmcallSubfunction.MapGpa, Buffer, 0x1000);

        Assert.Equal(0x8000_0000_0000_0000UL, _bed.Vmm.CompleteQuote(q).QuoteStatus);
    }
}
