using System.Runtime.CompilerServices;
using static TdxSim.Cpu.Exec.Operands;

namespace TdxSim.Cpu.Exec;

/// <summary>
/// CPL-0 state instructions a kernel's early boot executes: MOV to and from CR0/CR2/CR3/CR4/CR8, LGDT, LIDT, SGDT,
/// SIDT, MOV to and from segment registers, and far return (RETF/LRETQ). The control registers are plain state:
/// TdxSim does not translate linear addresses yet (linear = guest-physical), so a CR3 load changes no mapping.
/// </summary>
internal static unsafe class PrivilegedOps
{
    /// <summary>MOV CRn, r64: Aux = n, Src = register offset.</summary>
    public static int MovToCr(CpuCore* c, Op* op)
    {
        ulong v = Reg<ulong>(c, op->Src);
        switch (op->Aux)
        {
            case 0: c->State.Cr0 = v | 0x10; break;
            case 2: c->State.Cr2 = v; break;
            case 3:
                c->State.Cr3 = v & ~(1UL << 63);
                c->TlbCr3 = ulong.MaxValue; // a CR3 load flushes even when the value is the same
                break;
            case 4:
                if (c->GuestSystem != 0 && (v & Paging.Cr4La57) != 0)
                {
                    // 5-level paging is not enumerated (CPUID.7.ECX.LA57 = 0): setting CR4.LA57 is #GP(0).
                    c->SetException(CpuExit.GeneralProtection, 0, FaultDetail.None);
                    return Status.Exit;
                }

                c->State.Cr4 = v;
                break;
            default: c->State.Cr8 = v & 0xF; break;
        }

        SystemOps.SyncTranslation(c);

        return Status.Continue;
    }

    /// <summary>MOV DRn, r64 (n = 0-3, 6, 7): plain state, no breakpoint fires.</summary>
    public static int MovToDr(CpuCore* c, Op* op)
    {
        ulong v = Reg<ulong>(c, op->Src);
        switch (op->Aux)
        {
            case 0: c->State.Dr0 = v; break;
            case 1: c->State.Dr1 = v; break;
            case 2: c->State.Dr2 = v; break;
            case 3: c->State.Dr3 = v; break;
            case 6: c->State.Dr6 = v; break;
            default: c->State.Dr7 = v; break;
        }

        return Status.Continue;
    }

    /// <summary>MOV r64, DRn.</summary>
    public static int MovFromDr(CpuCore* c, Op* op)
    {
        ulong v = op->Aux switch
        {
            0 => c->State.Dr0,
            1 => c->State.Dr1,
            2 => c->State.Dr2,
            3 => c->State.Dr3,
            6 => c->State.Dr6 | 0xFFFF_0FF0,
            _ => c->State.Dr7 | 0x400,
        };
        SetReg(c, op->Dst, v);
        return Status.Continue;
    }

    /// <summary>MOV r64, CRn: Aux = n, Dst = register offset.</summary>
    public static int MovFromCr(CpuCore* c, Op* op)
    {
        ulong v = op->Aux switch
        {
            0 => c->State.Cr0,
            2 => c->State.Cr2,
            3 => c->State.Cr3,
            4 => c->State.Cr4,
            _ => c->State.Cr8,
        };
        SetReg(c, op->Dst, v);
        return Status.Continue;
    }

    /// <summary>LGDT (Aux = 0) or LIDT (Aux = 1) m16&amp;64: limit then base.</summary>
    public static int LoadDescriptorTable(CpuCore* c, Op* op)
    {
        ulong ea = Ea(c, op);
        if (!MemoryAccess.TryRead(c, ea, out ushort limit) || !MemoryAccess.TryRead(c, ea + 2, out ulong baseAddress))
        {
            return Status.Exit;
        }

        if (op->Aux == 0)
        {
            c->State.GdtrLimit = limit;
            c->State.GdtrBase = baseAddress;
        }
        else
        {
            c->State.IdtrLimit = limit;
            c->State.IdtrBase = baseAddress;
        }

        return Status.Continue;
    }

    /// <summary>SGDT (Aux = 0) or SIDT (Aux = 1) m16&amp;64.</summary>
    public static int StoreDescriptorTable(CpuCore* c, Op* op)
    {
        ulong ea = Ea(c, op);
        bool gdt = op->Aux == 0;
        int s1 = MemoryAccess.Store(c, ea, gdt ? c->State.GdtrLimit : c->State.IdtrLimit);
        if (s1 == Status.Exit)
        {
            return Status.Exit;
        }

        int s2 = MemoryAccess.Store(c, ea + 2, gdt ? c->State.GdtrBase : c->State.IdtrBase);
        return s2 == Status.Exit ? Status.Exit : Math.Max(s1, s2);
    }

    /// <summary>MOV Sreg, r/m16: Aux = segment (0 ES, 2 SS, 3 DS, 4 FS, 5 GS; Iced order), Src = register or a memory operand (Aux3 = 1).</summary>
    public static int MovToSreg(CpuCore* c, Op* op)
    {
        ushort selector;
        if (op->Aux3 == 1)
        {
            if (!MemoryAccess.TryRead(c, Ea(c, op), out selector))
            {
                return Status.Exit;
            }
        }
        else
        {
            selector = Reg<ushort>(c, op->Src);
        }

        return LoadSegment(c, op->Aux, selector);
    }

    /// <summary>MOV r/m, Sreg: Aux = segment; a register destination (Aux3 = 0) of Imm bytes is zero-extended, memory gets 16 bits.</summary>
    public static int MovFromSreg(CpuCore* c, Op* op) => StoreSelector(c, op, Selector(c, op->Aux));

    /// <summary>
    /// Stores a 16-bit selector as MOV from Sreg, STR and SLDT do: to memory (Aux3 = 1) 16 bits; to a register
    /// of Imm bytes, zero-extended.
    /// </summary>
    internal static int StoreSelector(CpuCore* c, Op* op, ushort v)
    {
        if (op->Aux3 == 1)
        {
            return MemoryAccess.Store(c, Ea(c, op), v);
        }

        switch (op->Imm)
        {
            case 2: SetReg(c, op->Dst, v); break;
            case 4: SetReg(c, op->Dst, (uint)v); break;
            default: SetReg(c, op->Dst, (ulong)v); break;
        }

        return Status.Continue;
    }

    /// <summary>RETF: pops RIP then CS, each Aux bytes wide (8 for LRETQ, 4 for LRETL), then releases Imm bytes.</summary>
    public static int FarReturn(CpuCore* c, Op* op)
    {
        ref ulong rsp = ref Gpr(c, 4);
        ulong target, selector;
        if (op->Aux == 8)
        {
            if (!MemoryAccess.TryRead(c, rsp, out target) || !MemoryAccess.TryRead(c, rsp + 8, out selector))
            {
                return Status.Exit;
            }
        }
        else
        {
            if (!MemoryAccess.TryRead(c, rsp, out uint t32) || !MemoryAccess.TryRead(c, rsp + 4, out uint s32))
            {
                return Status.Exit;
            }

            target = t32;
            selector = s32;
        }

        if (!IsCodeSegment64(c, (ushort)selector))
        {
            c->SetException(CpuExit.GeneralProtection, (uint)selector & 0xFFFC, FaultDetail.NotCodeSegment64);
            return Status.Exit;
        }

        rsp += (2UL * op->Aux) + op->Imm;
        c->State.Cs = (ushort)selector;
        c->State.Rip = target;
        return Status.Continue;
    }

    /// <summary>The 8-byte GDT descriptor for <paramref name="selector"/>, or false when it is null or beyond the limit.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool TryDescriptor(CpuCore* c, ushort selector, out ulong descriptor)
    {
        descriptor = 0;
        uint offset = (uint)selector & ~7u;
        if (offset == 0 || (selector & 4) != 0 || offset + 7 > c->State.GdtrLimit)
        {
            return false;
        }

        return MemoryAccess.TryRead(c, c->State.GdtrBase + offset, out descriptor);
    }

    /// <summary>A present code segment with L = 1 (the only kind a 64-bit kernel returns to).</summary>
    private static bool IsCodeSegment64(CpuCore* c, ushort selector)
    {
        if (!TryDescriptor(c, selector, out ulong d))
        {
            return false;
        }

        const ulong present = 1UL << 47, code = 1UL << 43, system = 1UL << 44, longMode = 1UL << 53;
        return (d & (present | code | system | longMode)) == (present | code | system | longMode);
    }

    private static int LoadSegment(CpuCore* c, int segment, ushort selector)
    {
        // Long mode: DS, ES, SS take a null selector; FS and GS load their base from the descriptor's low 32 bits.
        ulong baseAddress = 0;
        if ((selector & ~3) != 0)
        {
            if (!TryDescriptor(c, selector, out ulong d) || (d & (1UL << 47)) == 0)
            {
                c->SetException(CpuExit.GeneralProtection, (uint)selector & 0xFFFC, FaultDetail.BadSegmentSelector);
                return Status.Exit;
            }

            baseAddress = ((d >> 16) & 0xFF_FFFF) | (((d >> 56) & 0xFF) << 24);
        }

        switch (segment)
        {
            case 0: c->State.Es = selector; break;
            case 2: c->State.Ss = selector; break;
            case 3: c->State.Ds = selector; break;
            case 4: c->State.Fs = selector; c->State.FsBase = baseAddress; break;
            default: c->State.Gs = selector; c->State.GsBase = baseAddress; break;
        }

        return Status.Continue;
    }

    private static ushort Selector(CpuCore* c, int segment) => segment switch
    {
        0 => c->State.Es,
        1 => c->State.Cs,
        2 => c->State.Ss,
        3 => c->State.Ds,
        4 => c->State.Fs,
        _ => c->State.Gs,
    };
}
