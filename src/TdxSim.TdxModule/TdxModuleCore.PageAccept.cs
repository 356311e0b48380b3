using TdxSim.Abi;
using TdxSim.Abi.Messages;
using TdxSim.TdxModule.Memory;

namespace TdxSim.TdxModule;

// TDG.MEM.PAGE.ACCEPT (leaf 6; reference 4.3; [MOD] tdg_mem_page_accept.c) and the guest-operand walk shared by the
// leaves that touch guest memory ([MOD] helpers.c check_walk_and_map_guest_side_gpa).
public sealed partial class TdxModuleCore
{
    private const ulong PageInfoLevelMask = 0x7;
    private const ulong PageInfoReservedMask = 0xFF8; // bits 11:3

    /// <summary>
    /// RCX = page info: bits 2:0 level (0 = 4 KiB, 1 = 2 MiB), bits 11:3 reserved zero, bits 51:12 GPA. The GPA must be
    /// aligned to the level, private (shared bit clear) and within GPAW, else OPERAND_INVALID(RCX).
    /// Results: SUCCESS (the pages read zero); PAGE_ALREADY_ACCEPTED + level (a warning); PAGE_SIZE_MISMATCH + level.
    /// <para>
    /// A GPA with no private page behind it (beyond private memory, or converted to shared) makes the real module do
    /// a TD exit (EPT violation, ACCEPT extended qualification) for the VMM to add the page. The VMM has no memory
    /// there (KVM: no memslot, the run ends with an error), so the TD dies: <see cref="TdEntryAction.TdKilled"/>.
    /// TdxSim does not let the VMM convert a shared page back implicitly; a guest must MapGPA it to private first.
    /// </para>
    /// </summary>
    /// <para>
    /// TD-scope locking ([MOD] tdg_mem_page_accept.c; reference 4.3): the SEPT entry of the page is taken with a
    /// try-lock for the whole flow (<see cref="SeptEntryLocks"/>). An accept that finds it held by another vCPU's
    /// accept in flight changes nothing and answers TDX_OPERAND_BUSY with operand id 1 (RCX, the operand that names
    /// the entry: <c>0x8000020000000001</c>), as the module returns it for SEPT contention on this leaf; the guest
    /// retries. In concurrent mode the hold lasts while the handler runs; in deterministic mode it lasts over the
    /// handling's virtual cost (<c>leaf_ns</c> of TDG.MEM.PAGE.ACCEPT, else <c>tdcall_ns</c>), see <see cref="SeptTiming"/>.
    /// </para>
    private TdcallOutcome MemPageAccept(VcpuContext ctx, in Gprs regs, in SeptTiming timing)
    {
        const ushort Leaf = (ushort)TdcallLeaf.MemPageAccept;
        ulong info = regs[Gpr.Rcx];
        ulong level = info & PageInfoLevelMask;
        ulong gpa = info & ~(GuestPhysical.PageSize - 1);
        ulong size = level == 1 ? GuestPhysical.LargePageSize : GuestPhysical.PageSize;
        if (level > 1 || (info & PageInfoReservedMask) != 0 || (gpa & (size - 1)) != 0
            || gpa > GuestPhysical.AddressMask || GuestPhysical.IsShared(gpa))
        {
            return Fail(ctx, Leaf, TdxStatus.WithOperand(TdxStatus.OperandInvalid, Gpr.Rcx));
        }

        if (!_septLocks.TryAcquire(gpa, (int)level, in timing))
        {
            Counters.CountAccept(ctx.Index, TdxModuleCounters.AcceptBusy);
            return Fail(ctx, Leaf, TdxStatus.WithOperand(TdxStatus.OperandBusy, Gpr.Rcx));
        }

        TdAcceptResult result;
        try
        {
            result = _memory.Accept(gpa, (int)level);
        }
        finally
        {
            _septLocks.Release(gpa, (int)level, in timing);
        }

        switch (result)
        {
            case TdAcceptResult.Success:
                Counters.CountAccept(ctx.Index, TdxModuleCounters.AcceptSuccess);
                return Fail(ctx, Leaf, TdxStatus.Success);
            case TdAcceptResult.AlreadyAccepted:
                Counters.CountAccept(ctx.Index, TdxModuleCounters.AcceptAlready);
                return Fail(ctx, Leaf, TdxStatus.WithDetail(TdxStatus.PageAlreadyAccepted, (uint)level));
            case TdAcceptResult.SizeMismatch:
                return Fail(ctx, Leaf, TdxStatus.WithDetail(TdxStatus.PageSizeMismatch, (uint)level));
            default:
                var ve = new VeInfo(VeExitReason.EptViolation, EptQualification.Write, 0, gpa, 0, 0);
                return TdcallOutcome.Faulting(Kill(ctx, ve,
                    $"vCPU {ctx.Index}: TDG.MEM.PAGE.ACCEPT of GPA 0x{gpa:X} (level {level}) has no private page for the VMM to add "
                    + $"(private memory is [0, 0x{_memory.PrivateSize:X}); shared pages must be converted back with MapGPA first)"));
        }
    }

    /// <summary>True when <paramref name="gpa"/> fits in GPAW (the shared bit may be set).</summary>
    private static bool WithinGpaw(ulong gpa) => gpa <= GuestPhysical.AddressMask;

    private bool TryReadGuest(ulong gpa, Span<byte> destination)
        => GuestPhysical.IsShared(gpa) ? _memory.TryReadShared(gpa, destination) : _memory.TryReadPrivate(gpa, destination);

    private bool TryWriteGuest(ulong gpa, ReadOnlySpan<byte> source)
        => GuestPhysical.IsShared(gpa) ? _memory.TryWriteShared(gpa, source) : _memory.TryWritePrivate(gpa, source);

    /// <summary>
    /// The module could not reach a guest operand: the EPT violation its walk hits is handled as if the guest had made
    /// the access, and the TDCALL stays un-retired (RIP on the TDCALL). Shared GPA without a page: the shared EPT
    /// entry is #VE-convertible (MMIO), so #VE. Pending private page: #VE, or the TD dies under PENDING_VE_DISABLE.
    /// No private page at all: the VMM cannot map one, the TD dies. A page accepted meanwhile: re-execute the TDCALL.
    /// </summary>
    private TdcallOutcome GuestOperandFault(VcpuContext ctx, ulong gpa, bool write, string leafName)
    {
        var ve = new VeInfo(VeExitReason.EptViolation, write ? EptQualification.Write : EptQualification.Read, 0, gpa, 0, 0);
        return TdcallOutcome.Faulting(EptViolation(ctx, ve, $"{leafName} operand"));
    }

    /// <summary>An EPT violation on <paramref name="ve"/>.Gpa, by the guest or by the module walking a guest operand.</summary>
    private TdEntered EptViolation(VcpuContext ctx, in VeInfo ve, string what)
    {
        ulong gpa = ve.Gpa;
        if (GuestPhysical.IsShared(gpa))
        {
            return InjectVe(ctx, ve);
        }

        switch (_memory.GetPageState(gpa))
        {
            case TdPageState.Pending:
                return PendingVeDisabled
                    ? Kill(ctx, ve, $"vCPU {ctx.Index}: {what} touched unaccepted private GPA 0x{gpa:X} while TD_CTLS.PENDING_VE_DISABLE is set "
                                    + "(KVM: \"Guest access before accepting\", the VM is marked dead)")
                    : InjectVe(ctx, ve);
            case TdPageState.Accepted:
                // Accepted between the failed access and now (another vCPU's ACCEPT): resume at the same instruction.
                return Entry(ctx, TdEntryAction.Emulated, ve with { InstructionLength = 0 }, 0, default);
            case TdPageState.ConvertedToShared:
                return Kill(ctx, ve, $"vCPU {ctx.Index}: {what} made a private access to GPA 0x{gpa:X}, which was converted to shared");
            default:
                return Kill(ctx, ve, $"vCPU {ctx.Index}: {what} made a private access to GPA 0x{gpa:X} outside private memory "
                                     + $"[0, 0x{_memory.PrivateSize:X})");
        }
    }
}
