using System.Collections.Immutable;
using TdxSim.Abi.HostApi;
using TdxSim.Abi.Messages;
using TdxSim.Cpu;

namespace TdxSim.Guest;

/// <summary>
/// The host API over this vCPU (seed 004): the calls the machine let through (it refuses, as KVM, what the VM type
/// forbids) carried out on this vCPU's architectural state, between two slices, so the guest sees the effect at its
/// next instruction. The completion goes straight back to the VMM that asked.
/// </summary>
public sealed partial class VcpuActor
{
    /// <summary>TSC ticks per second per tick per instruction: a vCPU's TSC kHz is <c>TscPerInstruction</c> times this.</summary>
    public const ulong TscKhzPerTickPerInstruction = 2_000_000;

    private const int Einval = 22;
    private const int XsaveHeaderSize = 64;

    private readonly List<byte> _injectedInterrupts = [];
    private readonly List<byte> _levelInterrupts = [];
    private readonly ulong[] _postedInterruptRequests = new ulong[4];
    private int _pendingNmis;
    private int _pendingSmis;
    private int _mcgBanks;
    private int _injectedMces;
    private uint _guestDebugControl;

    /// <summary>KVM_SET_MP_STATE(HALTED): the host holds the vCPU; it runs no guest code until set RUNNABLE again.</summary>
    private bool _heldByHost;

    private void OnHostCall(HostVcpuCall call)
    {
        Unpark();
        (int errno, string? reason, HostVcpuData data) = Execute(call);
        Sender.Tell(new HostVcpuCallCompleted(_setup.Index, call.Call, call.Id, errno, reason, errno == 0 ? data : HostVcpuData.None), Self);
    }

    private (int Errno, string? Reason, HostVcpuData Data) Execute(HostVcpuCall call)
    {
        ref CpuState s = ref _cpu.State;
        HostVcpuData d = call.Data;
        switch (call.Call)
        {
            case HostCall.GetRegs:
                return Ok(Regs());

            case HostCall.SetRegs:
                s.Gpr = d.Regs;
                s.Rip = d.Rip;
                s.Rflags = d.Rflags | CpuState.ResetRflags;
                return Ok(Regs());

            case HostCall.GetSregs:
                return Ok(Sregs());

            case HostCall.SetSregs:
                (s.Cr0, s.Cr3, s.Cr4, s.Efer) = (d.Cr0, d.Cr3, d.Cr4, d.Efer);
                _cpu.InvalidateDecodeCache(); // the translation is synced from the new CRs at the next Run
                return Ok(Sregs());

            case HostCall.GetFpu:
                return Ok(new HostVcpuData { Fpu = Fxsave(xsave: false) });

            case HostCall.GetXsave:
                return Ok(new HostVcpuData { Fpu = Fxsave(xsave: true) });

            case HostCall.SetFpu or HostCall.SetXsave:
                if (d.Fpu.Length < Cpu.Cpu.FxsaveSize)
                {
                    return Refuse(call, $"the image has {d.Fpu.Length} bytes, not at least {Cpu.Cpu.FxsaveSize}");
                }

                _cpu.RestoreFxsave(d.Fpu.AsSpan());
                return Ok(new HostVcpuData { Fpu = Fxsave(call.Call == HostCall.SetXsave) });

            case HostCall.GetXcrs:
                return Ok(new HostVcpuData { Xcr0 = s.Xcr0 });

            case HostCall.SetXcrs:
                if ((d.Xcr0 & 1) == 0)
                {
                    return Refuse(call, "XCR0 bit 0 (x87) must be set");
                }

                s.Xcr0 = d.Xcr0;
                return Ok(new HostVcpuData { Xcr0 = s.Xcr0 });

            case HostCall.GetDebugRegs:
                return Ok(DebugRegs());

            case HostCall.SetDebugRegs:
                if (d.DebugRegs.Length != 6)
                {
                    return Refuse(call, $"{d.DebugRegs.Length} debug registers, not 6 (DR0-DR3, DR6, DR7)");
                }

                (s.Dr0, s.Dr1, s.Dr2, s.Dr3, s.Dr6, s.Dr7) = (d.DebugRegs[0], d.DebugRegs[1], d.DebugRegs[2], d.DebugRegs[3], d.DebugRegs[4], d.DebugRegs[5]);
                return Ok(DebugRegs());

            case HostCall.GetMpState:
                return Ok(new HostVcpuData { MpState = CurrentMpState() });

            case HostCall.SetMpState:
                return SetMpState(call, d.MpState);

            case HostCall.Interrupt or HostCall.LevelInterrupt or HostCall.PostedInterrupt when d.Vector < 32:
                return Refuse(call, $"vector {d.Vector} is an exception vector");

            case HostCall.Interrupt:
                _injectedInterrupts.Add(d.Vector);
                return Ok(Events());

            case HostCall.LevelInterrupt:
                _levelInterrupts.Add(d.Vector);
                return Ok(Events());

            case HostCall.PostedInterrupt:
                // PIR bit, then into the virtual APIC's VIRR, as the posted-interrupt notification does: the guest
                // takes it through its own IDT when IF and the processor priority allow (a --kernel guest).
                _postedInterruptRequests[d.Vector >> 6] |= 1UL << (d.Vector & 63);
                _cpu.PostInterrupt((byte)d.Vector);
                return Ok(Events());

            case HostCall.Nmi:
                // A TD's NMI is the PEND_NMI flag of its TDVPS: a second one while one is pending merges into it.
                _pendingNmis = call.VmType == VmType.Tdx ? 1 : _pendingNmis + 1;
                return Ok(Events());

            case HostCall.Smi:
                _pendingSmis++;
                return Ok(Events());

            case HostCall.SetupMce:
                if (d.Value is < 1 or > 32)
                {
                    return Refuse(call, $"{d.Value} banks (1 to 32)");
                }

                _mcgBanks = (int)d.Value;
                return Ok(Events());

            case HostCall.SetMce:
                if (_mcgBanks == 0)
                {
                    return Refuse(call, "no machine-check banks (KVM_X86_SETUP_MCE first)");
                }

                _injectedMces++;
                return Ok(Events());

            case HostCall.SetGuestDebug:
                _guestDebugControl = (uint)d.Value;
                return Ok(new HostVcpuData { Value = _guestDebugControl });

            case HostCall.GetTscKhz:
                return Ok(Tsc());

            case HostCall.SetTscKhz:
                if (d.Value == 0 || d.Value % TscKhzPerTickPerInstruction != 0)
                {
                    return Refuse(call, $"{d.Value} kHz: this vCPU's TSC advances whole ticks per instruction, so its frequency is a non-zero multiple of {TscKhzPerTickPerInstruction} kHz");
                }

                // The TSC stays continuous: it goes on from the value it has now, at the new rate.
                ulong now = _cpu.Tsc;
                _cpu.TscPerInstruction = d.Value / TscKhzPerTickPerInstruction;
                _cpu.TscOffset = now - (s.InstructionsRetired * _cpu.TscPerInstruction);
                return Ok(Tsc());

            case HostCall.SetTscOffset:
                _cpu.TscOffset = d.Value;
                return Ok(Tsc());

            default:
                return Refuse(call, "not a vCPU call");
        }
    }

    private (int, string?, HostVcpuData) SetMpState(HostVcpuCall call, MpState state)
    {
        switch (state)
        {
            case MpState.Halted:
                _heldByHost = true;
                break;
            case MpState.Runnable:
                if (_heldByHost)
                {
                    _heldByHost = false;
                    if (_mode == Mode.Running)
                    {
                        Self.Tell(RunSlice, Self);
                    }
                }

                break;
            default:
                return Refuse(call, $"{state} cannot be set on a vCPU that exists (RUNNABLE or HALTED)");
        }

        return Ok(new HostVcpuData { MpState = CurrentMpState() });
    }

    private MpState CurrentMpState() => _mode switch
    {
        Mode.Idle => MpState.Uninitialized,
        _ when _heldByHost || IsHalted => MpState.Halted,
        _ => MpState.Runnable,
    };

    private HostVcpuData Regs()
    {
        ref CpuState s = ref _cpu.State;
        return new HostVcpuData { Regs = s.Gpr, Rip = s.Rip, Rflags = s.Rflags };
    }

    private HostVcpuData Sregs()
    {
        ref CpuState s = ref _cpu.State;
        return new HostVcpuData { Cr0 = s.Cr0, Cr3 = s.Cr3, Cr4 = s.Cr4, Efer = s.Efer };
    }

    private HostVcpuData DebugRegs()
    {
        ref CpuState s = ref _cpu.State;
        return new HostVcpuData { DebugRegs = [s.Dr0, s.Dr1, s.Dr2, s.Dr3, s.Dr6, s.Dr7] };
    }

    private HostVcpuData Tsc() => new()
    {
        Value = _cpu.TscPerInstruction * TscKhzPerTickPerInstruction,
        Tsc = _cpu.Tsc,
    };

    private ImmutableArray<byte> Fxsave(bool xsave)
    {
        byte[] image = new byte[Cpu.Cpu.FxsaveSize + (xsave ? XsaveHeaderSize : 0)];
        _cpu.SaveFxsave(image);
        if (xsave)
        {
            // XSTATE_BV: the x87 and SSE components are in the legacy region.
            image[Cpu.Cpu.FxsaveSize] = (byte)(_cpu.State.Xcr0 & 3);
        }

        return ImmutableArray.Create(image);
    }

    private HostVcpuData Events() => new()
    {
        Events = new HostVcpuEvents(
            [.. _injectedInterrupts],
            [.. _levelInterrupts],
            [.. _postedInterruptRequests],
            _pendingNmis,
            _pendingSmis,
            _mcgBanks,
            _injectedMces,
            _cpu.HighestRequestedVector),
    };

    private static (int, string?, HostVcpuData) Ok(HostVcpuData data) => (0, null, data);

    private static (int, string?, HostVcpuData) Refuse(HostVcpuCall call, string reason) => (Einval, $"{call.Call}: {reason}", HostVcpuData.None);
}
