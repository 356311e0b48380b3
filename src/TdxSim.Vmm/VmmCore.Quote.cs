using System.Buffers.Binary;
using TdxSim.Abi;
using TdxSim.Abi.Messages;
using TdxSim.Vmm.Quote;

namespace TdxSim.Vmm;

// GetQuote: accepted synchronously, completed later.
public sealed partial class VmmCore
{
    /// <summary>
    /// GHCI TDG.VP.VMCALL&lt;GetQuote&gt; (0x10002): R12 = GPA of the buffer, R13 = its size. The buffer must be
    /// shared (KVM rejects a private GPA), page-aligned, a non-zero multiple of 4 KiB, and every page must have a shared
    /// page behind it; otherwise INVALID_OPERAND. The VMM sets the buffer's status to IN_FLIGHT and replies SUCCESS at
    /// once; the outcome's <see cref="VmcallOutcome.PendingQuote"/> must later go to <see cref="CompleteQuote"/>.
    /// </summary>
    private VmcallOutcome GetQuote(ref Call call)
    {
        ulong gpa = call.Regs[Gpr.R12];
        ulong size = call.Regs[Gpr.R13];
        const ulong pageMask = GuestPhysical.PageSize - 1;
        ulong address = GuestPhysical.StripShared(gpa);
        if (gpa > GuestPhysical.AddressMask || !GuestPhysical.IsShared(gpa) || ((gpa | size) & pageMask) != 0 || size == 0
            || size > _memory.PrivateSize || address > _memory.PrivateSize - size)
        {
            return Done(ref call, TdVmcall.InvalidOperand);
        }

        for (ulong page = address; page < address + size; page += GuestPhysical.PageSize)
        {
            if (!_memory.IsSharedBacked(page))
            {
                return Done(ref call, TdVmcall.InvalidOperand);
            }
        }

        Span<byte> status = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(status, QuoteBuffer.StatusInFlight);
        if (!_memory.TryWriteShared(address + QuoteBuffer.StatusOffset, status))
        {
            return Done(ref call, TdVmcall.InvalidOperand); // the buffer was converted back meanwhile
        }

        return Done(ref call, TdVmcall.Success, quote: new QuoteRequest(call.Vcpu, gpa, size));
    }

    /// <summary>
    /// Writes the quote of an accepted GetQuote into its buffer (the VMM actor calls this after the quoting delay):
    /// status 0, out_len, and a <see cref="SyntheticQuote"/> over the TDREPORT in the data area. The status becomes
    /// 0x8000000000000000 (error) when the header version is not 1, in_len is zero or runs past the buffer, or the quote
    /// would not fit. Returns the event for the machine, naming the vCPU's notify vector if it registered one.
    /// </summary>
    public QuoteCompleted CompleteQuote(QuoteRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        CheckVcpu(request.Vcpu);
        ulong address = GuestPhysical.StripShared(request.BufferGpa);
        ulong status = WriteQuote(address, request.Size);
        Counters.QuoteFinished(status == QuoteBuffer.StatusSuccess);
        return new QuoteCompleted(request.Vcpu, request.BufferGpa, status, NotifyVector(request.Vcpu));
    }

    private ulong WriteQuote(ulong address, ulong size)
    {
        Span<byte> header = stackalloc byte[QuoteBuffer.DataOffset];
        if (!_memory.TryReadShared(address, header))
        {
            return QuoteBuffer.StatusError; // the TD converted the buffer back to private: nothing to write to
        }

        ulong version = BinaryPrimitives.ReadUInt64LittleEndian(header[QuoteBuffer.VersionOffset..]);
        uint inLength = BinaryPrimitives.ReadUInt32LittleEndian(header[QuoteBuffer.InLengthOffset..]);
        ulong room = size - QuoteBuffer.DataOffset;
        byte[]? quote = null;
        if (version == QuoteBuffer.Version && inLength != 0 && inLength <= room)
        {
            var report = new byte[inLength];
            if (_memory.TryReadShared(address + QuoteBuffer.DataOffset, report))
            {
                quote = SyntheticQuote.Build(report);
            }
        }

        bool ok = quote is not null && (ulong)quote.Length <= room && _memory.TryWriteShared(address + QuoteBuffer.DataOffset, quote);
        ulong status = ok ? QuoteBuffer.StatusSuccess : QuoteBuffer.StatusError;
        Span<byte> field = stackalloc byte[8];
        BinaryPrimitives.WriteUInt32LittleEndian(field, ok ? (uint)quote!.Length : 0);
        bool written = _memory.TryWriteShared(address + QuoteBuffer.OutLengthOffset, field[..4]);

        // The status goes last: the guest polls it, so out_len and the quote must be in place when it changes.
        BinaryPrimitives.WriteUInt64LittleEndian(field, status);
        written &= _memory.TryWriteShared(address + QuoteBuffer.StatusOffset, field);
        return written ? status : QuoteBuffer.StatusError;
    }
}
