using TdxSim.Abi;
using TdxSim.Abi.Messages;
using Akka.Actor;
using TdxSim.Cpu;
using TdxSim.Guest.Diagnostics;
using TdxSim.Guest.Kernel;
using TdxSim.Runtime;

namespace TdxSim.Guest;

/// <summary>Everything a vCPU actor needs, fixed when the TD is built.</summary>
/// <param name="Index">The vCPU index (TDH.VP.INIT order; RDI at entry).</param>
/// <param name="Cpu">The interpreter holding this vCPU's architectural state.</param>
/// <param name="TdxModule">Where TDCALLs and TD exits go.</param>
/// <param name="Machine">Where stop requests and the final state go.</param>
/// <param name="Kernel">Guest-kernel behaviour.</param>
/// <param name="MaxInstructions">Per-vCPU instruction limit, or null.</param>
/// <param name="SliceInstructions">Instructions run before the actor yields to its mailbox.</param>
/// <param name="Statistics">Where the vCPU counts what it did.</param>
/// <param name="Timebase">The TD's common time base (halted time, timer deadlines across vCPUs); null: this vCPU alone.</param>
/// <param name="SpinWatch">Deterministic runs: where a vCPU spinning in a pause loop parks (see VcpuActor.Spin.cs); null: never.</param>
public sealed record VcpuSetup(
    int Index,
    Cpu.Cpu Cpu,
    IActorRef TdxModule,
    IActorRef Machine,
    GuestKernelOptions Kernel,
    ulong? MaxInstructions,
    ulong SliceInstructions,
    VcpuStatistics Statistics,
    GuestTimebase? Timebase = null,
    Spin.SpinWatchers? SpinWatch = null);

/// <summary>
/// One vCPU of the TD. It runs guest code on its <see cref="Cpu"/> and turns every exit into messages:
/// a TDCALL goes to the TDX module and the vCPU waits for <see cref="TdcallCompleted"/>; a #VE-class event
/// goes to the module as <see cref="TdExited"/>; when the module answers <see cref="TdEntryAction.VeInjected"/>
/// the built-in guest kernel's #VE handler (<see cref="VeHandler"/>) runs on this vCPU, issuing its own
/// TDCALLs, until the guest resumes. Faults, #DF and unhandled #VEs stop the TD with a diagnostic.
/// </summary>
/// <remarks>
/// Correlation: each TD exit or guest TDCALL starts a new correlation id; every message it causes (the
/// VE-info read, the TDVMCALL, the VMM's work, the replies) inherits it through the runtime.
/// The actor runs at most <see cref="VcpuSetup.SliceInstructions"/> instructions per message so stop
/// requests and other actors get their turn.
/// </remarks>
public sealed partial class VcpuActor : TdxActor
{
    private static readonly object RunSlice = new RunSliceMessage();

    private readonly VcpuSetup _setup;
    private readonly Cpu.Cpu _cpu;
    private readonly VeHandler _kernel;
    private readonly VcpuStatistics _stats;

    private Mode _mode = Mode.Idle;
    private long _exitStartedNs;
    // When the request awaiting a reply left, on the coarse clock of CoarseNow: the reply watchdog's only use, so a
    // #VE's kernel TDCALLs pay no precise clock read for it.
    private long _requestSentNs;
    private bool _pendingTdcallIsHlt;
    private Gprs _lastRequest;
    private string _deadState = "stopped";

    /// <summary>Creates the actor; use <see cref="Props(VcpuSetup)"/>.</summary>
    public VcpuActor(VcpuSetup setup)
    {
        ArgumentNullException.ThrowIfNull(setup);
        _setup = setup;
        _cpu = setup.Cpu;
        _stats = setup.Statistics;
        _kernel = new VeHandler(_cpu.Memory, setup.Kernel, setup.Statistics);
        _timebase = setup.Timebase ?? new GuestTimebase(1);

        // TdEntered, TdcallCompleted and the next slice: ReceiveDirect, below.
        Receive<StartVcpu>(_ => OnStart());
        Receive<StopVcpu>(_ => OnStop());
        Receive<CheckReplyWait>(OnCheckReplyWait);
        Receive<HostVcpuCall>(OnHostCall);
        Receive<PostedInterrupt>(OnPostedInterrupt);
        Receive<ArmGuestTimer>(OnArmTimer);
        Receive<TimebaseWake>(OnTimebaseWake);
        Receive<IdleCheck>(c => WakeFromTimebase(_timebase!.PickIfStillIdle(c.Epoch)));
        Receive<Spin.SpinWatchFired>(OnSpinWatchFired);
        Receive<Spin.SpinHorizon>(OnSpinHorizon);
    }

    /// <inheritdoc/>
    protected override bool ReceiveDirect(object message)
    {
        // The #VE and TDCALL path: the module's replies and the next slice (registered nowhere else).
        switch (message)
        {
            case TdEntered entered:
                OnTdEntered(entered);
                return true;
            case TdcallCompleted completed:
                OnTdcallCompleted(completed);
                return true;
            case RunSliceMessage:
                RunGuest();
                return true;
            default:
                return false;
        }
    }

    // The host timer emulating this vCPU's APIC timer (armed by the VMM), in guest TSC.
    private readonly GuestTimebase _timebase;
    private ulong _timerDeadline;
    private long _timerGeneration;
    private IActorRef? _timerOwner;
    private bool _haltRegistered;

    /// <inheritdoc/>
    protected override void PreStart()
    {
        base.PreStart();
        _timebase.Register(_setup.Timebase is null ? 0 : _setup.Index, Self);
    }

    private int TimebaseIndex => _setup.Timebase is null ? 0 : _setup.Index;

    /// <summary>A posted interrupt: into the virtual APIC's VIRR; delivered when the guest can take it.</summary>
    private void OnPostedInterrupt(PostedInterrupt p)
    {
        Unpark();
        _cpu.PostInterrupt(p.Vector);
    }

    private void OnArmTimer(ArmGuestTimer a)
    {
        Unpark();
        _timerOwner = Sender;
        _timerGeneration = a.Generation;
        _timerDeadline = a.Disarms ? 0 : a.DeadlineTsc != 0 ? a.DeadlineTsc : Math.Max(1, _cpu.Tsc + a.RelativeTicks);
        if (_haltRegistered)
        {
            IdleSoon(_timebase.UpdateHalted(TimebaseIndex, _timerDeadline));
        }
    }

    private void OnTimebaseWake(TimebaseWake w)
    {
        Unpark();
        if (!_haltRegistered || _timerDeadline == 0)
        {
            return;
        }

        _cpu.AdvanceTscTo(Math.Max(w.Tsc, _timerDeadline));
        FireTimer();
    }

    /// <summary>The timer's deadline passed: the VMM posts the LVT vector (and re-arms a periodic timer).</summary>
    private void FireTimer()
    {
        ulong deadline = _timerDeadline;
        _timerDeadline = 0;
        _timerOwner?.Tell(new GuestTimerExpired(_setup.Index, _timerGeneration, deadline), Self);
    }

    /// <summary>Halted in HLT with interrupts enabled: time may jump ahead to the earliest deadline.</summary>
    private void EnterHaltTimebase()
    {
        bool interruptsBlocked = _lastRequest[Gpr.R12] != 0;
        if (_haltRegistered || interruptsBlocked)
        {
            return;
        }

        _haltRegistered = true;
        _timebase.Publish(TimebaseIndex, _cpu.Tsc);
        IdleSoon(_timebase.EnterHalt(TimebaseIndex, _timerDeadline));
    }

    /// <summary>How long every vCPU must stay halted before time jumps to the earliest deadline: wake-ups in flight
    /// (a posted IPI whose target has not run yet) land first. Scheduler time: virtual in deterministic runs.</summary>
    private static readonly TimeSpan IdleSettle = TimeSpan.FromMicroseconds(500);

    private void IdleSoon(long? epoch)
    {
        if (epoch is not long e)
        {
            return;
        }

        if (_timebase.VcpuCount == 1)
        {
            // Alone: nothing can be in flight to this vCPU but its own timer.
            WakeFromTimebase(_timebase.PickIfStillIdle(e));
            return;
        }

        Context.System.Scheduler.ScheduleTellOnce(IdleSettle, Self, new IdleCheck(_setup.Index, e), Self);
    }

    private void WakeFromTimebase((int Vcpu, ulong Deadline, IActorRef? Actor)? pick)
    {
        if (pick is not { } p)
        {
            return;
        }

        if (p.Vcpu == TimebaseIndex)
        {
            _cpu.AdvanceTscTo(p.Deadline);
            FireTimer();
        }
        else
        {
            p.Actor?.Tell(new TimebaseWake(p.Vcpu, p.Deadline), Self);
        }
    }

    private void LeaveHaltTimebase()
    {
        if (!_haltRegistered)
        {
            return;
        }

        _haltRegistered = false;
        _timebase.LeaveHalt(TimebaseIndex);
        _cpu.AdvanceTscTo(_timebase.LatestRunning(TimebaseIndex));
    }

    /// <summary>After a slice: fire this vCPU's timer if due, publish its TSC, wake halted vCPUs it has passed.</summary>
    private void AfterSlice()
    {
        ulong tsc = _cpu.Tsc;
        if (_timerDeadline != 0 && tsc >= _timerDeadline)
        {
            FireTimer();
        }

        _timebase.Publish(TimebaseIndex, tsc);
        if (_timebase.TakeDue(tsc) is { } due)
        {
            foreach ((int v, IActorRef actor) in due)
            {
                actor.Tell(new TimebaseWake(v, tsc), Self);
            }
        }
    }

    private enum Mode
    {
        /// <summary>Not started.</summary>
        Idle,

        /// <summary>Running guest code (a RunSlice message is queued).</summary>
        Running,

        /// <summary>Guest code executed TDCALL; waiting for the module.</summary>
        AwaitingGuestTdcall,

        /// <summary>A TD exit went to the module; waiting for its decision.</summary>
        AwaitingTdEntry,

        /// <summary>The guest kernel's #VE handler waits for one of its TDCALLs.</summary>
        InVeHandler,

        /// <summary>The vCPU can no longer run (fatal, limit, stopped).</summary>
        Dead,
    }

    /// <summary>Props for a vCPU actor.</summary>
    public static Props Props(VcpuSetup setup) => Akka.Actor.Props.Create(() => new VcpuActor(setup));

    private void OnStart()
    {
        if (_mode != Mode.Idle)
        {
            return;
        }

        _mode = Mode.Running;
        RunGuest();
    }

    /// <summary>Runs guest code until an exit that needs someone else, or until the slice is used up.</summary>
    private void RunGuest()
    {
        if (_mode != Mode.Running || _heldByHost)
        {
            return;
        }

        ulong budget = _setup.SliceInstructions;
        if (_setup.MaxInstructions is ulong max)
        {
            ulong done = _cpu.State.InstructionsRetired;
            if (done >= max)
            {
                StopAtLimit(max, string.Empty);
                return;
            }

            budget = Math.Min(budget, max - done);
        }

        if (_timerDeadline != 0)
        {
            ulong now = _cpu.Tsc;
            if (now >= _timerDeadline)
            {
                FireTimer();
            }
            else
            {
                ulong tpi = Math.Max(1, _cpu.TscPerInstruction);
                budget = Math.Max(1, Math.Min(budget, (_timerDeadline - now + tpi - 1) / tpi));
            }
        }

        ulong instructionsBefore = _cpu.State.InstructionsRetired;
        ulong pausesBefore = _cpu.PausesRetired;
        CpuExit exit = RunSlicePossiblyProbing(budget, out bool probed);
        AfterSlice();
        if (exit.Kind != CpuExitKind.Pause)
        {
            ForgetSpin();
        }
        else if (ParkIfSpinning(probed, _cpu.State.InstructionsRetired - instructionsBefore, _cpu.PausesRetired - pausesBefore))
        {
            // Parked in a pure spin: a change of what the loop reads, a message, or the horizon runs it again.
            YieldThread();
            return;
        }

        switch (exit.Kind)
        {
            case CpuExitKind.InstructionLimit:
            case CpuExitKind.Pause:
                // Yield: let other messages (a stop, other actors under the deterministic dispatcher) run. A
                // pause-loop exit yields early, so a spinning vCPU does not starve the vCPU holding the lock; and the
                // thread is given up too, or the mailbox would run its next slices at once (Akka's throughput).
                YieldThread();
                Self.Tell(RunSlice, Self);
                return;

            case CpuExitKind.Tdcall:
            {
                Gprs regs = _cpu.State.Gpr;
                ushort leaf = TdcallLeafInfo.LeafOf(regs[Gpr.Rax]);
                _stats.CountTdcall(leaf);
                _pendingTdcallIsHlt = IsHltTdvmcall(in regs);
                _mode = Mode.AwaitingGuestTdcall;
                _lastRequest = regs;
                StartCorrelation();
                _exitStartedNs = TellAndStamp(_setup.TdxModule, new TdcallRequested(_setup.Index, regs));
                _requestSentNs = CoarseOf(_exitStartedNs);
                if (_pendingTdcallIsHlt)
                {
                    EnterHaltTimebase();
                }

                return;
            }

            case CpuExitKind.VirtualizationException:
                _mode = Mode.AwaitingTdEntry;
                StartCorrelation();
                _exitStartedNs = TellAndStamp(_setup.TdxModule, new TdExited(_setup.Index, exit.Ve, _cpu.State.Gpr));
                _requestSentNs = CoarseOf(_exitStartedNs);
                return;

            case CpuExitKind.EptViolation:
                Fatal(exit.Rip, exit.Detail ?? $"EPT violation on private memory at GPA 0x{exit.Ve.Gpa:x}");
                return;

            default:
                Fatal(exit.Rip, exit.Detail ?? $"exception vector {exit.Vector}");
                return;
        }
    }

    private void OnTdcallCompleted(TdcallCompleted reply)
    {
        switch (_mode)
        {
            case Mode.AwaitingGuestTdcall:
                // TDCALL completed for guest code: write exactly what the module wrote, then step past TDCALL.
                ref CpuState state = ref _cpu.State;
                state.Gpr.CopyFrom(reply.Regs, reply.WrittenRegisters);
                state.Rip += TdcallLeafInfo.TdcallLength;
                _pendingTdcallIsHlt = false;
                LeaveHaltTimebase();
                _stats.RecordTdcall(_exitStartedNs, Now);
                Resume();
                return;

            case Mode.InVeHandler:
                LeaveHaltTimebase();
                Continue(_kernel.OnTdcallCompleted(ref _cpu.State, reply));
                return;

            default:
                // A completion nobody asked for: the module (or a VMM behind it) misbehaved. Never apply it.
                _setup.Machine.Tell(new UnexpectedReply(_setup.Index, reply), Self);
                return;
        }
    }

    private void OnTdEntered(TdEntered entry)
    {
        ulong rip = _cpu.State.Rip;
        switch (_mode)
        {
            case Mode.AwaitingTdEntry:
                break;

            case Mode.AwaitingGuestTdcall:
                // The module could not complete the guest's TDCALL because its memory operand faulted
                // (TDG.MR.REPORT, RTMR.EXTEND, MEM.PAGE.ACCEPT): RIP stays on the TDCALL, nothing was written.
                _pendingTdcallIsHlt = false;
                if (entry.Action == TdEntryAction.Emulated)
                {
                    _setup.Machine.Tell(new UnexpectedReply(_setup.Index, entry), Self);
                    return;
                }

                break;

            case Mode.InVeHandler:
                // One of the kernel's own TDCALLs faulted: a #VE inside the #VE handler. Linux would take it on
                // its #VE stack; the built-in kernel treats it as fatal rather than guess.
                Fatal(rip, $"{entry.Action} ({entry.Exit.ReasonName}, GPA 0x{entry.Exit.Gpa:x}) on a TDCALL of the #VE handler itself");
                return;

            default:
                _setup.Machine.Tell(new UnexpectedReply(_setup.Index, entry), Self);
                return;
        }

        switch (entry.Action)
        {
            case TdEntryAction.Emulated:
                // Length 0 means the module resolved the cause (e.g. accepted a page): run the instruction again.
                _cpu.State.Gpr.CopyFrom(entry.Regs, entry.WrittenRegisters);
                _cpu.State.Rip += entry.Exit.InstructionLength;
                _stats.CountModuleEmulated();
                Resume();
                return;

            case TdEntryAction.VeInjected when _cpu.HasGuestIdt:
                // The guest has its own IDT (Linux): the module stored the VE info; vector 20 goes to the guest's own
                // #VE handler, which reads it with TDG.VP.VEINFO.GET and does its own TDG.VP.VMCALLs.
                _stats.CountVe(entry.Exit.ExitReason);
                InjectAndResume(rip, CpuExit.VirtualizationExceptionVector, 0);
                return;

            case TdEntryAction.VeInjected when _setup.Kernel.LinuxGuest:
                _stats.CountVe(entry.Exit.ExitReason);
                Fatal(rip, $"#VE ({entry.Exit.ReasonName}, qualification 0x{entry.Exit.ExitQualification:x}) before the guest loaded an IDT");
                return;

            case TdEntryAction.DoubleFaultInjected when _cpu.HasGuestIdt:
                InjectAndResume(rip, CpuExit.DoubleFault, 0);
                return;

            case TdEntryAction.GeneralProtectionInjected when _cpu.HasGuestIdt:
                InjectAndResume(rip, CpuExit.GeneralProtection, 0);
                return;

            case TdEntryAction.VeInjected:
                _stats.CountVe(entry.Exit.ExitReason);
                _mode = Mode.InVeHandler;
                Continue(_kernel.Begin());
                return;

            case TdEntryAction.DoubleFaultInjected:
                Fatal(rip, $"#DF: #VE ({entry.Exit.ReasonName}) while the previous VE info was still valid");
                return;

            case TdEntryAction.GeneralProtectionInjected:
                Fatal(rip, $"#GP(0) injected by the TDX module on {entry.Exit.ReasonName} (RCX=0x{_cpu.State.Gpr[Gpr.Rcx]:x})");
                return;

            default:
                Fatal(rip, $"the TD was killed on {entry.Exit.ReasonName} at GPA 0x{entry.Exit.Gpa:x}");
                return;
        }
    }

    private void InjectAndResume(ulong rip, byte vector, uint errorCode)
    {
        if (_cpu.Inject(vector, errorCode) is CpuExit fatal)
        {
            Fatal(rip, fatal.Detail ?? $"exception {vector} could not be delivered");
            return;
        }

        Resume();
    }

    private void Continue(KernelStep step)
    {
        switch (step.Kind)
        {
            case KernelStepKind.Tdcall:
                if (_kernel.IsUnrollingStringIo && _setup.MaxInstructions is ulong max && _cpu.State.InstructionsRetired >= max)
                {
                    // Between two elements of an unrolled REP INS/OUTS: the state is restartable here.
                    StopAtLimit(max, $" (unrolled string I/O, RCX 0x{_cpu.State.Gpr[Gpr.Rcx]:x} elements left)");
                    return;
                }

                // The kernel's TDCALLs stay under the correlation id of the #VE that caused them.
                // The reply watchdog times each request, not the whole #VE: an unrolled REP INS/OUTS may issue
                // millions of TDVMCALLs in one #VE, each answered promptly.
                _lastRequest = step.Regs;
                _requestSentNs = TellAndStampCoarse(_setup.TdxModule, new TdcallRequested(_setup.Index, step.Regs));
                if (IsHltTdvmcall(step.Regs))
                {
                    EnterHaltTimebase();
                }

                return;

            case KernelStepKind.Resume:
                // A HLT #VE's round trip includes the time spent halted: it is not a latency.
                if (_kernel.CurrentVe.ExitReason != VeExitReason.Hlt)
                {
                    _stats.RecordVe(_exitStartedNs, Now);
                }

                Resume();
                return;

            default:
                VeInfo ve = _kernel.CurrentVe;
                Fatal(_cpu.State.Rip, $"#VE {ve.ReasonName} (qualification 0x{ve.ExitQualification:x}, GPA 0x{ve.Gpa:x}) not handled: {step.Detail}");
                return;
        }
    }

    /// <summary>TDG.VP.VMCALL&lt;Instruction.HLT&gt;: the vCPU halts until the VMM wakes it.</summary>
    private static bool IsHltTdvmcall(in Gprs regs) =>
        TdcallLeafInfo.LeafOf(regs[Gpr.Rax]) == (ushort)TdcallLeaf.VpVmcall
        && regs[Gpr.R10] == TdVmcall.StandardCall
        && regs[Gpr.R11] == (ulong)TdVmcallSubfunction.InstructionHlt;

    private void Resume()
    {
        _mode = Mode.Running;
        RunGuest();
    }

    /// <summary>Halted in TDVMCALL&lt;HLT&gt;, by the guest's own TDCALL or by the #VE handler of a HLT.</summary>
    private bool IsHalted => (_mode == Mode.AwaitingGuestTdcall && _pendingTdcallIsHlt)
        || (_mode == Mode.InVeHandler && _kernel.IsActive && _kernel.CurrentVe.ExitReason == VeExitReason.Hlt);

    private void OnCheckReplyWait(CheckReplyWait check)
    {
        // A halted vCPU legitimately waits (for a wake-up, or for ever); a running or dead one waits for nothing.
        if (_mode is not (Mode.AwaitingGuestTdcall or Mode.AwaitingTdEntry or Mode.InVeHandler) || IsHalted)
        {
            return;
        }

        // Coarse on real time (see _requestSentNs): a request of this millisecond has waited 0, so a limit of 0 must
        // still count it, and the comparison is "at least the limit".
        long waited = CoarseNow - _requestSentNs;
        if (waited < check.LongerThanNs)
        {
            return;
        }

        string request = RequestName(_lastRequest);
        string what = _mode switch
        {
            Mode.AwaitingGuestTdcall => $"the guest's TDCALL {request}",
            Mode.AwaitingTdEntry => "a TD exit",
            _ => $"{request}, a TDCALL of the #VE handler for {_kernel.CurrentVe.ReasonName}",
        };
        string waitedFor = string.Create(System.Globalization.CultureInfo.InvariantCulture,
            $"vCPU {_setup.Index} has waited {waited / 1e6:F1} ms at RIP 0x{_cpu.State.Rip:x} for the reply to {what}");
        if (check.HostileHost)
        {
            // A hostile host may withhold a reply on purpose: that is a timeout of the TD, not an emulator bug.
            StopWith(GuestStopKind.ReplyTimeout, $"{waitedFor}: the hostile VMM never answered");
            return;
        }

        StopWith(GuestStopKind.InternalError, $"{waitedFor}: the TDX module or the VMM lost it");
    }

    /// <summary>A TDCALL by name: its leaf, and for TDG.VP.VMCALL the GHCI sub-function.</summary>
    private static string RequestName(in Gprs regs)
    {
        ushort leaf = TdcallLeafInfo.LeafOf(regs[Gpr.Rax]);
        string name = TdcallLeafInfo.SpecName(leaf) ?? "(unknown leaf)";
        return leaf == (ushort)TdcallLeaf.VpVmcall && regs[Gpr.R10] == TdVmcall.StandardCall
            ? $"{name}<{TdVmcall.SubfunctionName(regs[Gpr.R11])}>"
            : name;
    }

    private void OnStop()
    {
        Unpark();
        string state = _mode switch
        {
            Mode.Dead => _deadState,
            Mode.Idle => "not-started",
            _ when IsHalted => "halted",
            Mode.Running => "running",
            _ => "waiting",
        };
        _mode = Mode.Dead;
        _deadState = state;
        _kernel.Reset();
        ref CpuState s = ref _cpu.State;
        Sender.Tell(new VcpuStopped(_setup.Index, state, s.InstructionsRetired, s.Rip, s.Rflags, s.Gpr), Self);
    }

    private void Fatal(ulong rip, string reason)
    {
        StopWith(GuestStopKind.GuestFatal, InstructionBytes.FatalDetail(_setup.Index, _cpu, rip, reason));
        _deadState = "fatal";
    }

    private void StopAtLimit(ulong max, string context)
        => StopWith(GuestStopKind.InstructionLimit, $"vCPU {_setup.Index} reached its instruction limit of {max} at RIP 0x{_cpu.State.Rip:x}{context}");

    private void StopWith(GuestStopKind kind, string detail)
    {
        _mode = Mode.Dead;
        _deadState = kind switch
        {
            GuestStopKind.InstructionLimit => "limit",
            GuestStopKind.ReplyTimeout => "waiting",
            _ => "fatal",
        };
        _setup.Machine.Tell(new GuestStopRequested(_setup.Index, kind, 0, detail), Self);
    }

    private sealed class RunSliceMessage;
}

/// <summary>
/// Published on the event stream when a vCPU receives a reply it did not ask for (a misbehaving module or
/// VMM). The reply is ignored, never applied to guest state.
/// </summary>
/// <param name="Vcpu">The vCPU.</param>
/// <param name="Message">The unexpected message.</param>
public sealed record UnexpectedReply(int Vcpu, object Message);
