using TdxSim.Abi.Messages;
using TdxSim.Vmm.Msr;

namespace TdxSim.Vmm;

// The x2APIC registers a TD's accesses exit for (KVM's tdx_has_emulated_msr(): everything in 0x800-0x8FF except TPR,
// PPR, EOI, ISR, TMR and IRR, which the CPU virtualizes, plus IA32_TSC_DEADLINE). The MSR file keeps their values and
// access rules; this adds what writing them does: an ICR write sends IPIs, the timer registers arm the vCPU's host
// timer in the guest's TSC time base, and an expiry posts the LVT timer vector. Every interrupt enters the TD as a
// posted interrupt (PostedInterrupt to the target vCPU), never as an injected event.
public sealed partial class VmmCore
{
    private const uint LvtTimer = 0x832;
    private const uint LvtMasked = 1u << 16;
    private const int TimerModeOneShot = 0;
    private const int TimerModePeriodic = 1;
    private const int TimerModeTscDeadline = 2;

    private ApicTimerState[] _timers = [];
    private int[] _wakePending = [];
    private int[] _haltBlocked = [];
    private long _ipis;
    private long _timerInterrupts;

    /// <summary>IPIs sent by ICR writes (one per target).</summary>
    public long IpisSent => Interlocked.Read(ref _ipis);

    /// <summary>APIC timer interrupts posted.</summary>
    public long TimerInterruptsPosted => Interlocked.Read(ref _timerInterrupts);

    /// <summary>Whether an APIC timer is armed for <paramref name="vcpu"/>.</summary>
    public bool TimerArmed(int vcpu)
    {
        CheckVcpu(vcpu);
        lock (_timers[vcpu])
        {
            return _timers[vcpu].Armed;
        }
    }

    /// <summary>Whether <paramref name="vcpu"/> halted with R12 = 1 (interrupts blocked: a posted interrupt does not wake it).</summary>
    public bool HaltedWithInterruptsBlocked(int vcpu)
    {
        CheckVcpu(vcpu);
        return Volatile.Read(ref _haltBlocked[vcpu]) != 0;
    }

    private void InitApic()
    {
        _timers = new ApicTimerState[VcpuCount];
        for (int i = 0; i < _timers.Length; i++)
        {
            _timers[i] = new ApicTimerState();
        }

        _wakePending = new int[VcpuCount];
        _haltBlocked = new int[VcpuCount];
    }

    /// <summary>Whether <paramref name="index"/> is an APIC register whose write has an effect here.</summary>
    private static bool IsApicEffect(uint index) =>
        index is MsrTable.X2ApicIcr or LvtTimer or MsrTable.X2ApicTimerInitialCount or MsrTable.X2ApicTimerDivide or MsrTable.TscDeadline;

    /// <summary>After a guest WRMSR of an APIC register was accepted by the MSR file: its effects.</summary>
    private List<ITdxMessage>? ApicWritten(int vcpu, uint index, ulong value)
    {
        switch (index)
        {
            case MsrTable.X2ApicIcr:
                Msrs.HostWrite(vcpu, index, value & ~(1UL << 12)); // delivery status: always idle
                return SendIpi(vcpu, value);
            case LvtTimer:
            {
                ApicTimerState t = _timers[vcpu];
                lock (t)
                {
                    int mode = (int)(value >> 17) & 3;
                    if (mode != t.Mode)
                    {
                        // Switching modes disarms the timer (SDM Vol. 3A 11.5.4.1).
                        t.Mode = mode;
                        if (t.Armed)
                        {
                            return [Disarm(vcpu, t)];
                        }
                    }
                }

                return null;
            }

            case MsrTable.X2ApicTimerDivide:
                return null;
            case MsrTable.X2ApicTimerInitialCount:
            {
                ApicTimerState t = _timers[vcpu];
                lock (t)
                {
                    if (t.Mode == TimerModeTscDeadline)
                    {
                        return null; // ignored in TSC-deadline mode
                    }

                    if (value == 0)
                    {
                        return t.Armed ? [Disarm(vcpu, t)] : null;
                    }

                    ulong ticks = (ulong)(uint)value * Divisor(Msrs.HostRead(vcpu, MsrTable.X2ApicTimerDivide)) * Options.TscPerApicTick;
                    t.Armed = true;
                    t.Generation++;
                    t.PeriodTicks = t.Mode == TimerModePeriodic ? ticks : 0;
                    return [new ArmGuestTimer(vcpu, t.Generation, 0, ticks)];
                }
            }

            case MsrTable.TscDeadline:
            {
                ApicTimerState t = _timers[vcpu];
                lock (t)
                {
                    if (t.Mode != TimerModeTscDeadline)
                    {
                        return null;
                    }

                    if (value == 0)
                    {
                        return t.Armed ? [Disarm(vcpu, t)] : null;
                    }

                    t.Armed = true;
                    t.Generation++;
                    t.PeriodTicks = 0;
                    return [new ArmGuestTimer(vcpu, t.Generation, value, 0)];
                }
            }

            default:
                return null;
        }
    }

    /// <summary>The current-count register: the initial count while a one-shot or periodic timer runs, else 0. (The
    /// VMM does not see the guest's TSC between exits, so the count does not decrease: a documented simplification.)</summary>
    private bool TryApicRead(int vcpu, uint index, out ulong value)
    {
        value = 0;
        if (index != MsrTable.X2ApicTimerCurrentCount || !Msrs.Table.TryGetSlot(index, out _))
        {
            return false;
        }

        ApicTimerState t = _timers[vcpu];
        lock (t)
        {
            value = t.Armed && t.Mode != TimerModeTscDeadline ? Msrs.HostRead(vcpu, MsrTable.X2ApicTimerInitialCount) & 0xFFFF_FFFF : 0;
        }

        return true;
    }

    private static ArmGuestTimer Disarm(int vcpu, ApicTimerState t)
    {
        t.Armed = false;
        t.Generation++;
        return new ArmGuestTimer(vcpu, t.Generation, 0, 0);
    }

    /// <summary>Divide configuration register to divisor: bits 3, 1:0 (SDM Vol. 3A figure 11-10).</summary>
    private static ulong Divisor(ulong dcr)
    {
        uint code = (uint)(((dcr >> 1) & 4) | (dcr & 3));
        return code == 7 ? 1UL : 2UL << (int)code;
    }

    /// <summary>
    /// The host's timer for <paramref name="vcpu"/> fired (the vCPU's guest TSC reached the deadline of
    /// <paramref name="generation"/>): posts the LVT timer vector unless masked; a periodic timer is re-armed from
    /// its previous deadline, a TSC-deadline timer's MSR reads 0 again. A stale generation does nothing.
    /// </summary>
    public IReadOnlyList<ITdxMessage> TimerExpired(int vcpu, long generation, ulong deadlineTsc)
    {
        CheckVcpu(vcpu);
        ApicTimerState t = _timers[vcpu];
        var effects = new List<ITdxMessage>(2);
        lock (t)
        {
            if (!t.Armed || t.Generation != generation)
            {
                return effects;
            }

            if (t.Mode == TimerModePeriodic && t.PeriodTicks != 0)
            {
                t.Generation++;
                effects.Add(new ArmGuestTimer(vcpu, t.Generation, deadlineTsc + t.PeriodTicks, 0));
            }
            else
            {
                t.Armed = false;
                if (t.Mode == TimerModeTscDeadline && Msrs.Table.TryGetSlot(MsrTable.TscDeadline, out _))
                {
                    Msrs.HostWrite(vcpu, MsrTable.TscDeadline, 0);
                }
            }
        }

        ulong lvt = Msrs.Table.TryGetSlot(LvtTimer, out _) ? Msrs.HostRead(vcpu, LvtTimer) : LvtMasked;
        if ((lvt & LvtMasked) == 0 && (byte)lvt >= 16)
        {
            Interlocked.Increment(ref _timerInterrupts);
            effects.Insert(0, Post(vcpu, (byte)lvt));
        }

        return effects;
    }

    /// <summary>ICR (SDM Vol. 3A 11.6.1, x2APIC format): fixed (and lowest-priority, sent to the first target)
    /// IPIs by destination shorthand, physical x2APIC ID or logical cluster/bitmap. INIT and SIPI are not used in a
    /// TD (application processors start through the MP wakeup mailbox) and NMI is not modelled: those are ignored.</summary>
    private List<ITdxMessage>? SendIpi(int vcpu, ulong icr)
    {
        byte vector = (byte)icr;
        int mode = (int)(icr >> 8) & 7;
        bool logical = (icr & (1UL << 11)) != 0;
        int shorthand = (int)(icr >> 18) & 3;
        uint dest = (uint)(icr >> 32);
        if (mode is not (0 or 1) || vector < 16)
        {
            return null;
        }

        var effects = new List<ITdxMessage>();
        for (int v = 0; v < VcpuCount; v++)
        {
            bool hit = shorthand switch
            {
                1 => v == vcpu,
                2 => true,
                3 => v != vcpu,
                _ when !logical => dest == 0xFFFF_FFFF || dest == (uint)v,
                _ => dest == 0xFFFF_FFFF || ((dest >> 16) == (uint)(v >> 4) && (dest & (1u << (v & 15))) != 0),
            };
            if (hit)
            {
                effects.Add(Post(v, vector));
                Interlocked.Increment(ref _ipis);
                if (mode == 1)
                {
                    break;
                }
            }
        }

        return effects;
    }

    private PostedInterrupt Post(int vcpu, byte vector)
    {
        Volatile.Write(ref _wakePending[vcpu], 1);
        return new PostedInterrupt(vcpu, vector);
    }

    /// <summary>
    /// A posted interrupt is pending for a vCPU about to halt with interrupts enabled: KVM does not block such a vCPU
    /// (kvm_vcpu_has_events), so the HLT completes at once. Clears the flag.
    /// </summary>
    private bool TakeWakePending(int vcpu) => Interlocked.Exchange(ref _wakePending[vcpu], 0) != 0;

    private sealed class ApicTimerState
    {
        public int Mode;
        public bool Armed;
        public long Generation;
        public ulong PeriodTicks;
    }
}
