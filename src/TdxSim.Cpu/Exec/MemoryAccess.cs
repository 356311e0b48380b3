using System.Runtime.CompilerServices;
using TdxSim.Abi;
using TdxSim.Memory;

namespace TdxSim.Cpu.Exec;

/// <summary>How an access uses memory (selects the EPT-violation qualification bits).</summary>
internal enum Access : byte
{
    Read = 1,
    Write = 2,
    ReadWrite = 3,
    Fetch = 4,
}

/// <summary>
/// Guest memory access for handlers. The fast path is one compare on the page-state byte of an accepted
/// private page; everything else (page crossings, shared aliases, pending pages, MMIO, writes into pages
/// holding decoded code, addresses beyond GPAW) goes to <see cref="Slow"/>.
/// </summary>
internal static unsafe class MemoryAccess
{
    private const byte Accepted = PageCode.Accepted;
    private const ulong PageOffsetMask = GuestPhysical.PageSize - 1;

    /// <summary>Host pointer for reading <paramref name="size"/> bytes at <paramref name="ea"/>; null after storing an exit in the core.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static byte* Read(CpuCore* c, ulong ea, uint size)
    {
        if (c->Paging != 0)
        {
            TlbEntry* e = c->Tlb + ((ea >> GuestPhysical.PageShift) & Paging.TlbMask);
            ulong a = ea + e->Addend;
            if (e->ReadTag == (ea & ~PageOffsetMask) && a < c->PrivateSize && (ea & PageOffsetMask) <= GuestPhysical.PageSize - size
                && (c->States[a >> GuestPhysical.PageShift] & GuestPhysicalMemory.StateMask) == Accepted)
            {
                return c->Mem + a;
            }

            int ignoredPaged = Status.Continue;
            return SlowPaged(c, ea, size, Access.Read, ref ignoredPaged);
        }

        if (ea < c->PrivateSize && (ea & PageOffsetMask) <= GuestPhysical.PageSize - size
            && (c->States[ea >> GuestPhysical.PageShift] & GuestPhysicalMemory.StateMask) == Accepted)
        {
            return c->Mem + ea;
        }

        int ignored = Status.Continue;
        return Slow(c, ea, size, Access.Read, ref ignored);
    }

    /// <summary>Host pointer for writing (or read-modify-writing) at <paramref name="ea"/>; null after storing an exit.
    /// Sets <paramref name="status"/> to <see cref="Status.StopAfter"/> when the write hits decoded code.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static byte* Write(CpuCore* c, ulong ea, uint size, ref int status, Access access = Access.Write)
    {
        if (c->Paging != 0)
        {
            TlbEntry* e = c->Tlb + ((ea >> GuestPhysical.PageShift) & Paging.TlbMask);
            ulong a = ea + e->Addend;
            if (e->WriteTag == (ea & ~PageOffsetMask) && a < c->PrivateSize && (ea & PageOffsetMask) <= GuestPhysical.PageSize - size
                && c->States[a >> GuestPhysical.PageShift] == Accepted)
            {
                return c->Mem + a;
            }

            return SlowPaged(c, ea, size, access, ref status);
        }

        if (ea < c->PrivateSize && (ea & PageOffsetMask) <= GuestPhysical.PageSize - size
            && c->States[ea >> GuestPhysical.PageShift] == Accepted)
        {
            return c->Mem + ea;
        }

        return Slow(c, ea, size, access, ref status);
    }

    /// <summary>Reads a value; false after storing an exit in the core.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool TryRead<T>(CpuCore* c, ulong ea, out T value)
        where T : unmanaged
    {
        byte* p = Read(c, ea, (uint)sizeof(T));
        if (p == null)
        {
            value = default;
            return false;
        }

        value = Unsafe.ReadUnaligned<T>(p);
        return true;
    }

    /// <summary>Writes a value; returns <see cref="Status.Continue"/>, <see cref="Status.StopAfter"/> or <see cref="Status.Exit"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int Store<T>(CpuCore* c, ulong ea, T value)
        where T : unmanaged
    {
        int status = Status.Continue;
        byte* p = Write(c, ea, (uint)sizeof(T), ref status);
        if (p == null)
        {
            return Status.Exit;
        }

        Unsafe.WriteUnaligned(p, value);
        return status;
    }

    /// <summary>
    /// Every access the fast path refuses: checks each page the access touches (at most two), raising in order of
    /// the SDM: #GP(0) beyond the GPA width, then EPT violations (guest fatal on private memory, #VE on pending
    /// private pages and on shared GPAs with no page behind them). Writes into code pages invalidate decoded blocks.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    public static byte* Slow(CpuCore* c, ulong ea, uint size, Access access, ref int status)
    {
        if (c->Paging != 0)
        {
            return SlowPaged(c, ea, size, access, ref status);
        }

        ulong last = ea + size - 1;
        if (last > GuestPhysical.AddressMask || last < ea)
        {
            c->SetException(CpuExit.GeneralProtection, 0, FaultDetail.BeyondGpaw);
            c->VeGla = ea;
            return null;
        }

        if (!CheckPage(c, ea, access, ref status))
        {
            return null;
        }

        ulong secondPage = last & ~PageOffsetMask;
        if (secondPage != (ea & ~PageOffsetMask))
        {
            if (GuestPhysical.IsShared(secondPage) != GuestPhysical.IsShared(ea))
            {
                // Crossing from the top private page into the shared alias: no host mapping is contiguous there.
                SetEptFatal(c, secondPage, access, FaultDetail.PrivateOutsideMemory);
                return null;
            }

            if (!CheckPage(c, secondPage, access, ref status))
            {
                return null;
            }
        }

        return GuestPhysical.IsShared(ea) ? c->Shared + GuestPhysical.StripShared(ea) : c->Mem + ea;
    }

    /// <summary>
    /// The slow path with paging on: translates each page the access touches, then checks each guest-physical page as
    /// <see cref="Slow"/> does. An access straddling two pages that are not adjacent in guest-physical memory is
    /// assembled in the core's bounce buffer for a read; such a write is refused (documented as not implemented).
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    public static byte* SlowPaged(CpuCore* c, ulong ea, uint size, Access access, ref int status)
    {
        Access walkAccess = access == Access.ReadWrite ? Access.Write : access;
        if (!Paging.Translate(c, ea, walkAccess, out ulong gpa0))
        {
            return null;
        }

        if (!CheckPage(c, gpa0, access, ref status))
        {
            c->VeGla = ea;
            return null;
        }

        ulong last = ea + size - 1;
        if ((last & ~PageOffsetMask) == (ea & ~PageOffsetMask))
        {
            return HostPointer(c, gpa0);
        }

        if (!Paging.Translate(c, last & ~PageOffsetMask, walkAccess, out ulong gpa1))
        {
            return null;
        }

        if (!CheckPage(c, gpa1, access, ref status))
        {
            c->VeGla = last & ~PageOffsetMask;
            return null;
        }

        if (gpa1 == (gpa0 & ~PageOffsetMask) + GuestPhysical.PageSize && GuestPhysical.IsShared(gpa0) == GuestPhysical.IsShared(gpa1))
        {
            return HostPointer(c, gpa0);
        }

        if ((access & Access.Write) != 0 || size > 64)
        {
            c->SetException(CpuExit.GeneralProtection, 0, FaultDetail.StraddlingWrite);
            c->VeGla = ea;
            return null;
        }

        uint first = (uint)(GuestPhysical.PageSize - (ea & PageOffsetMask));
        Buffer.MemoryCopy(HostPointer(c, gpa0), c->Bounce, 64, first);
        Buffer.MemoryCopy(HostPointer(c, gpa1), c->Bounce + first, 64 - first, size - first);
        return c->Bounce;
    }

    private static byte* HostPointer(CpuCore* c, ulong gpa) =>
        GuestPhysical.IsShared(gpa) ? c->Shared + GuestPhysical.StripShared(gpa) : c->Mem + gpa;

    /// <summary>Validates the page holding <paramref name="gpa"/> for <paramref name="access"/>; stores the exit when it fails.</summary>
    private static bool CheckPage(CpuCore* c, ulong gpa, Access access, ref int status)
    {
        ulong stripped = GuestPhysical.StripShared(gpa);
        ulong page = stripped >> GuestPhysical.PageShift;
        if (GuestPhysical.IsShared(gpa))
        {
            if (access != Access.Fetch && page < c->PageCount
                && (c->States[page] & GuestPhysicalMemory.StateMask) == PageCode.Shared)
            {
                if (c->Probe != 0 || (c->States[page] & GuestPhysicalMemory.WatchFlag) != 0)
                {
                    SpinWatch.Note(c, page, shared: true, write: (access & Access.Write) != 0);
                }

                return true;
            }

            if (access == Access.Fetch)
            {
                SetEptFatal(c, gpa, access, FaultDetail.FetchFromShared);
                return false;
            }

            // Shared GPA with nothing behind it: MMIO, an EPT-violation #VE (reference 3.1).
            c->SetVe(VeExitReason.EptViolation, Qualification(access), gpa, gpa);
            return false;
        }

        if (page >= c->PageCount)
        {
            SetEptFatal(c, gpa, access, FaultDetail.PrivateOutsideMemory);
            return false;
        }

        byte state = Volatile.Read(ref c->States[page]);
        switch (PageCode.ToState(state))
        {
            case PageState.Accepted:
                if ((access & Access.Write) != 0 && (state & GuestPhysicalMemory.CodeFlag) != 0)
                {
                    InvalidateCode(c, page);
                    status = Status.StopAfter;
                }

                if (c->Probe != 0 || (state & GuestPhysicalMemory.WatchFlag) != 0)
                {
                    SpinWatch.Note(c, page, shared: false, write: (access & Access.Write) != 0);
                }

                return true;
            case PageState.Pending:
                // Access before TDG.MEM.PAGE.ACCEPT with PENDING_VE_DISABLE clear: #VE (reference 4.4).
                c->SetVe(VeExitReason.EptViolation, Qualification(access), gpa, gpa);
                return false;
            default:
                SetEptFatal(c, gpa, access, FaultDetail.PrivateConvertedToShared);
                return false;
        }
    }

    /// <summary>Exit qualification of an EPT violation without paging: access bits, GLA valid, final translation.</summary>
    public static ulong Qualification(Access access) =>
        ((access & Access.Read) != 0 ? EptQualification.Read : 0)
        | ((access & Access.Write) != 0 ? EptQualification.Write : 0)
        | (access == Access.Fetch ? EptQualification.Fetch : 0)
        | EptQualification.GlaValid | EptQualification.FinalTranslation;

    private static void SetEptFatal(CpuCore* c, ulong gpa, Access access, FaultDetail detail)
    {
        c->Exit = CoreExit.EptFatal;
        c->Detail = detail;
        c->VeReason = VeExitReason.EptViolation;
        c->VeQualification = Qualification(access);
        c->VeGla = gpa;
        c->VeGpa = gpa;
    }

    /// <summary>Same protocol as GuestPhysicalMemory.InvalidateCode, on the raw arrays.</summary>
    private static void InvalidateCode(CpuCore* c, ulong page)
    {
        ref byte state = ref c->States[page];
        while (true)
        {
            byte old = Volatile.Read(ref state);
            if ((old & GuestPhysicalMemory.CodeFlag) == 0)
            {
                return;
            }

            if (Interlocked.CompareExchange(ref state, (byte)(old & ~GuestPhysicalMemory.CodeFlag), old) == old)
            {
                Interlocked.Increment(ref c->Generations[page]);
                return;
            }
        }
    }
}
