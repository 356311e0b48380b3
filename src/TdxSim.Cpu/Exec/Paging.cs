using System.Runtime.CompilerServices;
using TdxSim.Abi;
using TdxSim.Memory;

namespace TdxSim.Cpu.Exec;

/// <summary>
/// 4-level paging (SDM Vol. 3A 4.5) for a TD vCPU at CPL 0: the walk from CR3, A/D bits, R/W with CR0.WP, U/S with
/// SMEP/SMAP, NX with EFER.NXE, reserved bits, 1 GiB and 2 MiB pages, and #PF with its error code (the faulting
/// linear address goes to CR2 when the fault is delivered). In a TD the guest-physical address a PTE names carries
/// the shared bit (bit GPAW - 1 = 47) like any other address bit; bits 51:48 are reserved (MAXPHYADDR = GPAW = 48).
/// The TLB is direct-mapped over 4 KiB linear pages; every flush (CR3, CR0, CR4 write, INVLPG) bumps
/// <see cref="CpuCore.TlbEpoch"/>, which decoded blocks compare against to revalidate their translation.
/// </summary>
internal static unsafe class Paging
{
    public const int TlbEntries = 1024;
    public const ulong TlbMask = TlbEntries - 1;

    /// <summary>A tag no page-aligned address equals.</summary>
    public const ulong Invalid = 1;

    public const ulong Present = 1UL << 0;
    public const ulong Writable = 1UL << 1;
    public const ulong User = 1UL << 2;
    public const ulong AccessedBit = 1UL << 5;
    public const ulong DirtyBit = 1UL << 6;
    public const ulong LargePage = 1UL << 7;
    public const ulong NoExecute = 1UL << 63;

    /// <summary>Address bits of a table entry: 47:12 (GPAW 48, the shared bit included).</summary>
    public const ulong AddressBits = 0x0000_FFFF_FFFF_F000;

    /// <summary>Bits 51:48: beyond MAXPHYADDR.</summary>
    public const ulong BeyondMaxPhy = 0x000F_0000_0000_0000;

    // #PF error code bits (SDM Vol. 3A 4.7).
    public const uint PfPresent = 1;
    public const uint PfWrite = 2;
    public const uint PfUser = 4;
    public const uint PfReserved = 8;
    public const uint PfFetch = 16;

    public const ulong Cr0Wp = 1UL << 16;
    public const ulong Cr0Pg = 1UL << 31;
    public const ulong Cr4Pae = 1UL << 5;
    public const ulong Cr4Smep = 1UL << 20;
    public const ulong Cr4Smap = 1UL << 21;
    public const ulong Cr4La57 = 1UL << 12;
    public const ulong EferNxe = 1UL << 11;
    public const ulong EferLma = 1UL << 10;

    /// <summary>Invalidates every TLB entry (cheap: a few KiB) and bumps the epoch.</summary>
    public static void Flush(CpuCore* c)
    {
        TlbEntry* t = c->Tlb;
        for (int i = 0; i < TlbEntries; i++)
        {
            t[i].ReadTag = Invalid;
            t[i].WriteTag = Invalid;
            t[i].FetchTag = Invalid;
        }

        c->TlbEpoch++;
    }

    /// <summary>True when translation is on: long-mode paging (CR0.PG, CR4.PAE, EFER.LMA).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool Enabled(CpuCore* c) => c->Paging != 0;

    /// <summary>Whether <paramref name="la"/> is canonical (bits 63:47 all equal).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool IsCanonical(ulong la) => (ulong)(((long)la << 16) >> 16) == la;

    /// <summary>
    /// Translates <paramref name="la"/> for <paramref name="access"/>; false after storing the exit in the core (#PF, #GP
    /// for a non-canonical address, or an EPT violation / #VE on a page-table page). Fills the TLB.
    /// </summary>
    public static bool Translate(CpuCore* c, ulong la, Access access, out ulong gpa)
    {
        ulong page = la & ~(GuestPhysical.PageSize - 1);
        TlbEntry* e = c->Tlb + ((la >> GuestPhysical.PageShift) & TlbMask);
        ulong tag = access == Access.Fetch ? e->FetchTag : (access & Access.Write) != 0 ? e->WriteTag : e->ReadTag;
        if (tag == page)
        {
            gpa = la + e->Addend;
            return true;
        }

        return Walk(c, la, access, out gpa);
    }

    /// <summary>The page walk proper (see <see cref="Translate"/>).</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    public static bool Walk(CpuCore* c, ulong la, Access access, out ulong gpa)
    {
        gpa = 0;
        if (!IsCanonical(la))
        {
            c->SetException(CpuExit.GeneralProtection, 0, FaultDetail.NonCanonical);
            c->VeGla = la;
            return false;
        }

        bool write = (access & Access.Write) != 0;
        bool fetch = access == Access.Fetch;
        bool nxe = (c->State.Efer & EferNxe) != 0;
        ulong reserved = BeyondMaxPhy | (nxe ? 0 : NoExecute);
        ulong table = c->State.Cr3 & AddressBits;
        ulong rights = Writable | User;
        bool noExec = false;
        ulong* leaf = null;
        ulong entry = 0;
        int shift = 39;
        for (int level = 4; level >= 1; level--, shift -= 9)
        {
            ulong entryGpa = table + (((la >> shift) & 511) * 8);
            ulong* p = TableEntry(c, entryGpa, la);
            if (p == null)
            {
                return false;
            }

            entry = Volatile.Read(ref *p);
            if ((entry & Present) == 0)
            {
                return PageFault(c, la, access, 0);
            }

            ulong rsvd = reserved;
            bool large = (entry & LargePage) != 0 && level is 2 or 3;
            if (level == 4 && (entry & LargePage) != 0)
            {
                rsvd |= LargePage;
            }
            else if (large)
            {
                // The PAT bit is 12; bits below the page's alignment down to 13 are reserved.
                rsvd |= ((1UL << shift) - 1) & ~((1UL << 13) - 1);
            }

            if ((entry & rsvd) != 0)
            {
                return PageFault(c, la, access, PfPresent | PfReserved);
            }

            rights &= entry;
            noExec |= nxe && (entry & NoExecute) != 0;
            if ((entry & AccessedBit) == 0)
            {
                SetBits(p, AccessedBit);
            }

            if (level == 1 || large)
            {
                leaf = p;
                ulong size = 1UL << shift;
                gpa = (entry & AddressBits & ~(size - 1)) | (la & (size - 1));
                break;
            }

            table = entry & AddressBits;
        }

        // Rights, at CPL 0 (every TD access here is a supervisor access).
        bool userPage = (rights & User) != 0;
        if (write && (rights & Writable) == 0 && (c->State.Cr0 & Cr0Wp) != 0)
        {
            return PageFault(c, la, access, PfPresent);
        }

        if (fetch && (noExec || (userPage && (c->State.Cr4 & Cr4Smep) != 0)))
        {
            return PageFault(c, la, access, PfPresent);
        }

        if (!fetch && userPage && (c->State.Cr4 & Cr4Smap) != 0 && (c->State.Rflags & Rflags.Ac) == 0)
        {
            return PageFault(c, la, access, PfPresent);
        }

        if (write && (entry & DirtyBit) == 0)
        {
            SetBits(leaf, DirtyBit);
            entry |= DirtyBit;
        }

        ulong linearPage = la & ~(GuestPhysical.PageSize - 1);
        TlbEntry* e = c->Tlb + ((la >> GuestPhysical.PageShift) & TlbMask);
        e->Addend = (gpa & ~(GuestPhysical.PageSize - 1)) - linearPage;
        e->ReadTag = linearPage;

        // Writes go through the entry only once the page is dirty and writable (or WP lets CPL 0 write it anyway).
        bool canWrite = (rights & Writable) != 0 || (c->State.Cr0 & Cr0Wp) == 0;
        e->WriteTag = canWrite && (entry & DirtyBit) != 0 ? linearPage : Invalid;
        e->FetchTag = !noExec && !(userPage && (c->State.Cr4 & Cr4Smep) != 0) ? linearPage : Invalid;
        if (!fetch && userPage && (c->State.Cr4 & Cr4Smap) != 0)
        {
            // Allowed now only because RFLAGS.AC is set: do not let later accesses skip the check.
            e->ReadTag = Invalid;
            e->WriteTag = Invalid;
        }

        return true;
    }

    /// <summary>A page-table entry's host address: page tables live in accepted private memory; anything else is the
    /// EPT violation (or pending-page #VE) a walk would cause.</summary>
    private static ulong* TableEntry(CpuCore* c, ulong entryGpa, ulong la)
    {
        if (GuestPhysical.IsShared(entryGpa))
        {
            // A page table on a shared page: TDX walks it like any other, but TdxSim keeps tables private only.
            c->SetVe(VeExitReason.EptViolation, MemoryAccess.Qualification(Access.Read), la, entryGpa);
            return null;
        }

        ulong page = entryGpa >> GuestPhysical.PageShift;
        if (page >= c->PageCount)
        {
            c->Exit = CoreExit.EptFatal;
            c->Detail = FaultDetail.PrivateOutsideMemory;
            c->VeReason = VeExitReason.EptViolation;
            c->VeQualification = MemoryAccess.Qualification(Access.Read);
            c->VeGla = la;
            c->VeGpa = entryGpa;
            return null;
        }

        byte state = (byte)(c->States[page] & GuestPhysicalMemory.StateMask);
        if (state != PageCode.Accepted)
        {
            c->SetVe(VeExitReason.EptViolation, MemoryAccess.Qualification(Access.Read), la, entryGpa);
            return null;
        }

        return (ulong*)(c->Mem + entryGpa);
    }

    private static void SetBits(ulong* p, ulong bits)
    {
        // Other vCPUs may walk or write the same table: set A/D atomically, as the processor does.
        Interlocked.Or(ref *(long*)p, (long)bits);
    }

    private static bool PageFault(CpuCore* c, ulong la, Access access, uint code)
    {
        if ((access & Access.Write) != 0)
        {
            code |= PfWrite;
        }

        if (access == Access.Fetch && ((c->State.Efer & EferNxe) != 0 || (c->State.Cr4 & Cr4Smep) != 0))
        {
            code |= PfFetch;
        }

        c->SetException(CpuExit.PageFaultVector, code, FaultDetail.PageFault);
        c->VeGla = la;
        return false;
    }

    /// <summary>Reads linear memory for diagnostics without touching A/D bits or the TLB; false when unmapped.</summary>
    public static bool TryPeek(CpuCore* c, ulong la, out ulong gpa)
    {
        gpa = la;
        if (c->Paging == 0)
        {
            return true;
        }

        if (!IsCanonical(la))
        {
            return false;
        }

        ulong table = c->State.Cr3 & AddressBits;
        int shift = 39;
        for (int level = 4; level >= 1; level--, shift -= 9)
        {
            ulong entryGpa = table + (((la >> shift) & 511) * 8);
            ulong page = entryGpa >> GuestPhysical.PageShift;
            if (GuestPhysical.IsShared(entryGpa) || page >= c->PageCount)
            {
                return false;
            }

            ulong entry = *(ulong*)(c->Mem + entryGpa);
            if ((entry & Present) == 0)
            {
                return false;
            }

            if (level == 1 || ((entry & LargePage) != 0 && level is 2 or 3))
            {
                ulong size = 1UL << shift;
                gpa = (entry & AddressBits & ~(size - 1)) | (la & (size - 1));
                return true;
            }

            table = entry & AddressBits;
        }

        return false;
    }
}
