using System.Numerics;

namespace TdxSim.Cpu.Exec;

/// <summary>
/// The part of the x2APIC a TDX vCPU virtualizes in the CPU itself (APICv: virtualize-x2APIC mode, APIC-register
/// virtualization, virtual-interrupt delivery; SDM Vol. 3C chapter 30): VIRR, VISR, VTPR and the PPR computed from
/// them, the EOI and SELF_IPI writes, and the delivery of the highest-priority requested vector through the guest's
/// IDT when RFLAGS.IF allows it. The TDX module passes these MSRs through its MSR bitmap (no TD exit, no #VE); KVM
/// cannot emulate them because it cannot see the virtual-APIC page (<c>tdx_has_emulated_msr()</c>). Everything else
/// of the APIC (ICR, timer, LVT, SVR, LDR, ...) exits to the VMM, which emulates it and delivers by posted interrupts.
/// </summary>
internal static unsafe class VirtualApic
{
    public const uint Tpr = 0x808;
    public const uint Ppr = 0x80A;
    public const uint Eoi = 0x80B;
    public const uint IsrFirst = 0x810;
    public const uint TmrFirst = 0x818;
    public const uint IrrFirst = 0x820;
    public const uint SelfIpi = 0x83F;

    /// <summary>Index of the highest set bit of a 256-bit vector, or -1.</summary>
    public static int Highest(ulong* bits)
    {
        for (int w = 3; w >= 0; w--)
        {
            if (bits[w] != 0)
            {
                return (w << 6) | (63 - BitOperations.LeadingZeroCount(bits[w]));
            }
        }

        return -1;
    }

    /// <summary>PPR from VTPR and the highest in-service vector (SDM 30.1.3).</summary>
    public static uint ComputePpr(CpuCore* c)
    {
        int svi = Highest(c->Visr);
        uint isrv = svi < 0 ? 0u : (uint)svi;
        uint tpr = c->Vtpr & 0xFF;
        return (tpr >> 4) >= (isrv >> 4) ? tpr : isrv & 0xF0;
    }

    /// <summary>Requests <paramref name="vector"/> (VIRR bit) and marks an interrupt as possibly deliverable.</summary>
    public static void Request(CpuCore* c, byte vector)
    {
        c->Virr[vector >> 6] |= 1UL << (vector & 63);
        c->IntrPending = 1;
    }

    /// <summary>Re-arms the pending flag when VIRR holds something (after EOI or a TPR write lowered PPR).</summary>
    public static void Reevaluate(CpuCore* c)
    {
        if ((c->Virr[0] | c->Virr[1] | c->Virr[2] | c->Virr[3]) != 0)
        {
            c->IntrPending = 1;
        }
    }

    /// <summary>
    /// At a block boundary with <see cref="CpuCore.IntrPending"/> set: delivers the highest requested vector if its
    /// priority class is above PPR's, IF = 1 and no STI blocking. 0 = nothing delivered, 1 = delivered, -1 = the
    /// delivery ended in a triple fault (stored in the core as the exit).
    /// </summary>
    public static int TryDeliver(CpuCore* c)
    {
        if ((c->State.Rflags & Rflags.If) == 0 || c->GuestIdt == 0 || c->State.IdtrLimit == 0)
        {
            return 0; // stays pending: STI, POPF or IRETQ may open the window
        }

        int rvi = Highest(c->Virr);
        if (rvi < 0 || (uint)(rvi >> 4) <= (ComputePpr(c) >> 4))
        {
            c->IntrPending = 0; // nothing, or masked by PPR: EOI, a TPR write or a new request re-arms it
            return 0;
        }

        c->Virr[rvi >> 6] &= ~(1UL << (rvi & 63));
        c->Visr[rvi >> 6] |= 1UL << (rvi & 63);
        c->ExternalInterrupts++;
        bool ok = Interrupts.Deliver(c, (byte)rvi, 0);
        Reevaluate(c);
        return ok ? 1 : -1;
    }

    /// <summary>RDMSR of a CPU-virtualized x2APIC register; false when <paramref name="msr"/> is not one.</summary>
    public static bool TryRead(CpuCore* c, uint msr, out ulong value)
    {
        value = 0;
        switch (msr)
        {
            case Tpr: value = c->Vtpr & 0xFF; return true;
            case Ppr: value = ComputePpr(c); return true;
            case >= IsrFirst and < IsrFirst + 8: value = Half(c->Visr, msr - IsrFirst); return true;
            case >= TmrFirst and < TmrFirst + 8: value = 0; return true; // edge-triggered only (no I/O APIC levels)
            case >= IrrFirst and < IrrFirst + 8: value = Half(c->Virr, msr - IrrFirst); return true;
            default: return false;
        }
    }

    /// <summary>WRMSR of a CPU-virtualized x2APIC register: Status.Continue, Status.Exit (#GP stored), or -1 when
    /// <paramref name="msr"/> is not one.</summary>
    public static int TryWrite(CpuCore* c, uint msr, ulong value)
    {
        switch (msr)
        {
            case Tpr:
                if ((value >> 8) != 0)
                {
                    return Gp(c);
                }

                c->Vtpr = (uint)value;
                Reevaluate(c);
                return Status.Continue;
            case Eoi:
                if (value != 0)
                {
                    return Gp(c);
                }

                int svi = Highest(c->Visr);
                if (svi >= 0)
                {
                    c->Visr[svi >> 6] &= ~(1UL << (svi & 63));
                }

                Reevaluate(c);
                return Status.Continue;
            case SelfIpi:
                if ((value >> 8) != 0)
                {
                    return Gp(c);
                }

                if (value >= 16)
                {
                    Request(c, (byte)value);
                }

                return Status.Continue;
            default:
                return -1;
        }
    }

    private static ulong Half(ulong* bits, uint index) => (uint)(bits[index >> 1] >> (int)((index & 1) * 32));

    private static int Gp(CpuCore* c)
    {
        c->SetException(CpuExit.GeneralProtection, 0, FaultDetail.None);
        return Status.Exit;
    }
}
