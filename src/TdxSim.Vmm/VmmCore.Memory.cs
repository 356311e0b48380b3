using TdxSim.Abi;
using TdxSim.Memory;

namespace TdxSim.Vmm;

// MapGPA: private/shared conversion.
public sealed partial class VmmCore
{
    /// <summary>
    /// GHCI TDG.VP.VMCALL&lt;MapGPA&gt; (0x10001): R12 = start GPA (shared bit set: make shared; clear: make private),
    /// R13 = size. As KVM:
    /// <list type="bullet">
    /// <item>start or size not 4 KiB aligned: ALIGN_ERROR, R11 = start;</item>
    /// <item>zero size, wrap-around, bits above GPAW, or a range crossing the shared boundary: INVALID_OPERAND, R11 = start;</item>
    /// <item>a range leaving private memory: INVALID_OPERAND, R11 = the first GPA outside it (in the request's form);</item>
    /// <item>otherwise the range is converted in chunks of at most 2 MiB; with <see cref="VmmOptions.MapGpaRetryAfterEachChunk"/>
    /// each call converts one chunk and returns RETRY with R11 = the next GPA (shared bit as in the request) until the
    /// last chunk, which returns SUCCESS.</item>
    /// </list>
    /// Contents are lost: a page made shared reads zero through its shared alias, a page made private is pending and
    /// reads zero once accepted again.
    /// </summary>
    private VmcallOutcome MapGpa(ref Call call)
    {
        ulong start = call.Regs[Gpr.R12];
        ulong size = call.Regs[Gpr.R13];
        const ulong pageMask = GuestPhysical.PageSize - 1;
        if (((start | size) & pageMask) != 0)
        {
            call.Regs[Gpr.R11] = start;
            return Done(ref call, TdVmcall.AlignError);
        }

        bool toShared = GuestPhysical.IsShared(start);
        ulong sharedBit = toShared ? GuestPhysical.SharedBit : 0;
        ulong gpa = GuestPhysical.StripShared(start);
        if (start > GuestPhysical.AddressMask || size == 0 || gpa + size < gpa || gpa + size > GuestPhysical.SharedBit)
        {
            call.Regs[Gpr.R11] = start;
            return Done(ref call, TdVmcall.InvalidOperand);
        }

        ulong end = gpa + size;
        if (end > _memory.PrivateSize)
        {
            call.Regs[Gpr.R11] = Math.Max(gpa, _memory.PrivateSize) | sharedBit;
            return Done(ref call, TdVmcall.InvalidOperand);
        }

        for (ulong next = gpa; next < end;)
        {
            ulong chunk = Math.Min(end - next, GuestPhysical.LargePageSize);
            ConversionResult result = toShared ? _memory.ConvertToShared(next, chunk) : _memory.ConvertToPrivate(next, chunk);
            if (result != ConversionResult.Success)
            {
                call.Regs[Gpr.R11] = next | sharedBit;
                return Done(ref call, result == ConversionResult.AlignError ? TdVmcall.AlignError : TdVmcall.InvalidOperand);
            }

            Counters.Converted(call.Vcpu, toShared, chunk);
            next += chunk;
            if (next < end && Options.MapGpaRetryAfterEachChunk)
            {
                call.Regs[Gpr.R11] = next | sharedBit;
                return Done(ref call, TdVmcall.Retry);
            }
        }

        return Done(ref call, TdVmcall.Success);
    }
}

// What a hostile host may do to shared memory behind the guest's back.
public sealed partial class VmmCore
{
    /// <summary>
    /// Zaps the shared page behind <paramref name="sharedGpa"/> (the host removes it from the shared EPT, as KVM zaps an
    /// SPTE): the guest's next access through the shared alias is an EPT violation on shared memory, a #VE. Returns
    /// false when no shared page was there.
    /// </summary>
    public bool ZapSharedPage(ulong sharedGpa)
    {
        ulong page = GuestPhysical.StripShared(sharedGpa) & ~(GuestPhysical.PageSize - 1);
        return _memory.IsSharedBacked(page) && _memory.ConvertToPrivate(page, GuestPhysical.PageSize) == ConversionResult.Success;
    }
}
