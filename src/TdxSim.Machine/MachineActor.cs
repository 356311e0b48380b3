using TdxSim.Abi.HostApi;
using TdxSim.Abi.Messages;
using Akka.Actor;
using TdxSim.Guest;
using TdxSim.Runtime;
using TdxSim.Vmm.HostApi;

namespace TdxSim.Machine;

/// <summary>What the machine actor builds and watches.</summary>
internal sealed record MachineWiring(
    int VcpuCount,
    bool PerVcpuVmm,
    bool PerVcpuModule,
    Func<IActorRef, Props> VmmProps,
    Func<Func<int, IActorRef>, Props> ModuleProps,
    Func<int, IActorRef, IActorRef, Props> VcpuProps,
    ulong? HltWakeNs,
    ulong? TimeLimitNs,
    ulong? ReplyTimeoutNs,
    bool ResumeAfterFatalError,
    Func<int, ulong, string, string> GuestFatalDetail,
    TaskCompletionSource<MachineOutcome> Completion,
    bool HostileHost = false,
    TimeSpan? WatchdogPeriod = null,
    VmType VmType = VmType.Tdx,
    ulong MemoryBytes = 0,
    bool InterruptDelivery = false);

/// <summary>How the TD ended, as the machine actor saw it.</summary>
internal sealed record MachineOutcome(
    int ExitStatus,
    string Reason,
    string Detail,
    IReadOnlyList<VcpuFinalState> Vcpus,
    IReadOnlyList<ulong> Reports,
    long UnexpectedReplies,
    long PostCodes,
    long QuotesCompleted,
    IReadOnlyList<string> ResumedFatalErrors);

/// <summary>
/// The supervisor of one TD. It creates the VMM (one, or a <c>vmm</c> group with one per vCPU), the TDX module
/// and the <c>vcpu</c> group, starts every vCPU, and decides the exit status of contract section 2 from the
/// events it receives: a stop request from a device or the VMM (debug exit, selftest success, ReportFatalError),
/// a vCPU's fatal or limit, every vCPU halted, the time limit, or a failing actor (an emulator bug: status 8).
/// The first decision wins; the machine then stops every vCPU and collects its final state.
/// </summary>
internal sealed class MachineActor : TdxActor, IWithTimers
{
    private static readonly TimeSpan StopCollectionTimeout = TimeSpan.FromSeconds(5);
    private static readonly TimeSpan ReplyWatchdogPeriod = TimeSpan.FromSeconds(1);

    private readonly MachineWiring _wiring;
    private readonly IActorRef[] _vcpus;
    private readonly IActorRef[] _vmms;
    private readonly bool[] _halted;
    private readonly bool[] _haltedWithInterrupts;
    private readonly bool[] _haltedWithTimer;
    private readonly VcpuFinalState?[] _finalStates;
    private readonly List<ulong> _reports = [];
    private readonly List<string> _resumedFatalErrors = [];
    private int _groupsPending;
    private int _haltedCount;
    private int _statesPending;
    private long _unexpectedReplies;
    private long _postCodes;
    private long _quotes;
    private (int Status, string Reason, string Detail)? _decision;
    private int? _fatalErrorVcpu;
    private IActorRef[] _modules = [];

    public ITimerScheduler Timers { get; set; } = null!;

    public MachineActor(MachineWiring wiring)
    {
        _wiring = wiring;
        int n = wiring.VcpuCount;
        _vcpus = new IActorRef[n];
        _vmms = new IActorRef[wiring.PerVcpuVmm ? n : 1];
        _halted = new bool[n];
        _haltedWithInterrupts = new bool[n];
        _haltedWithTimer = new bool[n];
        _finalStates = new VcpuFinalState?[n];

        Receive<GroupReady>(OnGroupReady);
        Receive<GuestStopRequested>(OnStopRequested);
        Receive<VcpuHalted>(OnHalted);
        Receive<VcpuWoke>(OnWoke);
        Receive<SelftestReported>(OnReported);
        Receive<PostCodeWritten>(_ => _postCodes++);
        Receive<QuoteCompleted>(_ => _quotes++);
        Receive<VcpuStopped>(OnVcpuStopped);
        Receive<ChildFailed>(f => Decide(ExitStatus.InternalError, "internal-error", f.Detail));
        Receive<StopRequestedByHost>(s => Decide(s.Status, "interrupted", $"stopped by {s.Signal}"));
        Receive<TimeLimitReached>(_ => Decide(ExitStatus.LimitReached, "time-limit", "the time limit was reached"));
        Receive<ReplyWatchdogTick>(_ => OnReplyWatchdogTick());
        Receive<WakeDue>(w => w.Vmm.Tell(new WakeHaltedVcpu(w.Vcpu), Self));
        Receive<StopCollectionTimedOut>(_ => Complete());
        Receive<UnexpectedReply>(_ => _unexpectedReplies++);
        Receive<HostFaultInjected>(_ => { }); // logged on delivery; the journal has the details
        Receive<HostVcpuCall>(OnHostCall);
        Receive<Terminated>(OnTerminated);
    }

    protected override void PreStart()
    {
        // The VMM first (the module routes to it), then the module, then the vCPUs that call the module.
        if (_wiring.PerVcpuVmm)
        {
            var members = new (string, Props)[_vmms.Length];
            for (int i = 0; i < members.Length; i++)
            {
                members[i] = (i.ToString(System.Globalization.CultureInfo.InvariantCulture), Runtime.Configure(_wiring.VmmProps(Self)));
            }

            _groupsPending++;
            Context.ActorOf(Runtime.Configure(Props.Create(() => new GroupActor(members, _vmms))), "vmm");
        }
        else
        {
            _vmms[0] = Context.ActorOf(Runtime.Configure(_wiring.VmmProps(Self)), "vmm");
        }

        IActorRef[] vmms = _vmms;
        bool perVcpu = _wiring.PerVcpuVmm;
        Func<int, IActorRef> vmmFor = v => perVcpu ? vmms[v] : vmms[0];
        var modules = new IActorRef[_wiring.PerVcpuModule ? _vcpus.Length : 1];
        if (_wiring.PerVcpuModule)
        {
            // One module actor per vCPU over the one TdxModuleCore (the TD-scope state), each named by its vCPU.
            var members = new (string, Props)[modules.Length];
            for (int i = 0; i < members.Length; i++)
            {
                members[i] = (i.ToString(System.Globalization.CultureInfo.InvariantCulture), Runtime.Configure(_wiring.ModuleProps(vmmFor)));
            }

            _groupsPending++;
            Context.ActorOf(Runtime.Configure(Props.Create(() => new GroupActor(members, modules))), "tdx-module");
        }
        else
        {
            modules[0] = Context.ActorOf(Runtime.Configure(_wiring.ModuleProps(vmmFor)), "tdx-module");
        }

        _modules = modules;

        // The vCPUs call the module: with one module per vCPU they are created once that group has its members.
        _groupsPending++;
        if (!_wiring.PerVcpuModule)
        {
            CreateVcpus();
        }

        if (_wiring.TimeLimitNs is ulong limit)
        {
            Timers.StartSingleTimer(TimeLimitReached.Instance, TimeLimitReached.Instance, TimeSpan.FromTicks((long)(limit / 100)));
        }

        // Nothing waits for ever: a reply lost inside the emulator ends the run with status 8 instead of hanging.
        // Only on real time: under the deterministic dispatcher a lost reply leaves the loop idle, which it reports.
        // A hostile host withholds replies on purpose: then the watchdog runs on virtual time too, and a reply that
        // never comes is a timeout (status 6) naming the vCPU and the request.
        if (_wiring.ReplyTimeoutNs is not null && (Runtime.Deterministic is null || _wiring.HostileHost))
        {
            Timers.StartPeriodicTimer(ReplyWatchdogTick.Instance, ReplyWatchdogTick.Instance, _wiring.WatchdogPeriod ?? ReplyWatchdogPeriod);
        }
    }

    private void OnReplyWatchdogTick()
    {
        if (_decision is not null || _wiring.ReplyTimeoutNs is not ulong timeout)
        {
            return;
        }

        var check = new CheckReplyWait(0, (long)Math.Min(timeout, long.MaxValue), _wiring.HostileHost);
        for (int i = 0; i < _vcpus.Length; i++)
        {
            if (_vcpus[i] is { } vcpu && !_halted[i])
            {
                vcpu.Tell(check with { Vcpu = i }, Self);
            }
        }
    }

    protected override SupervisorStrategy SupervisorStrategy() => new OneForOneStrategy(
        e =>
        {
            // Any failing actor of the TD is an emulator bug: stop it and end the run with status 8.
            Runtime.CountFailure();
            Self.Tell(new ChildFailed($"{e.GetType().Name}: {e.Message}"), ActorRefs.NoSender);
            return Directive.Stop;
        },
        loggingEnabled: false);

    private void CreateVcpus()
    {
        var vcpuMembers = new (string, Props)[_vcpus.Length];
        for (int i = 0; i < vcpuMembers.Length; i++)
        {
            IActorRef module = _modules.Length == 1 ? _modules[0] : _modules[i];
            vcpuMembers[i] = (i.ToString(System.Globalization.CultureInfo.InvariantCulture), Runtime.Configure(_wiring.VcpuProps(i, module, Self)));
        }

        Context.ActorOf(Runtime.Configure(Props.Create(() => new GroupActor(vcpuMembers, _vcpus))), "vcpu");
    }

    private void OnGroupReady(GroupReady ready)
    {
        if (ready.Name == "tdx-module" && _decision is null)
        {
            CreateVcpus();
        }

        if (--_groupsPending > 0 || _decision is not null)
        {
            return;
        }

        // Posted interrupts and APIC-timer programming go from the VMM straight to the vCPUs of a guest that takes
        // interrupts through its own IDT (a --kernel guest); the built-in guests' traffic stays as it was.
        if (_wiring.InterruptDelivery)
        {
            var attach = new TdxSim.Vmm.AttachVcpus([.. _vcpus], _wiring.PerVcpuVmm ? [.. _vmms] : null);
            foreach (IActorRef vmm in _vmms)
            {
                vmm.Tell(attach, Self);
            }
        }

        for (int i = 0; i < _vcpus.Length; i++)
        {
            Context.Watch(_vcpus[i]);
            _vcpus[i].Tell(new StartVcpu(i), Self);
        }
    }

    private void OnStopRequested(GuestStopRequested request)
    {
        switch (request.Kind)
        {
            case GuestStopKind.DebugExit:
                byte value = (byte)request.Value;
                Decide(ExitStatus.DebugExit(value), "debug-exit", $"vCPU {request.Vcpu} wrote 0x{value:x2} to the debug-exit port 0xF4");
                break;
            case GuestStopKind.SelftestSuccess:
                Decide(ExitStatus.Success, "selftest-success", $"vCPU {request.Vcpu} signalled success on port 0x30");
                break;
            case GuestStopKind.ReportedFatalError when _wiring.ResumeAfterFatalError:
                // The host chose to resume the guest (as the KVM selftest's host does): record it, keep running.
                _resumedFatalErrors.Add($"vCPU {request.Vcpu}: {request.Detail}");
                break;
            case GuestStopKind.ReportedFatalError:
                // The vCPU's RIP and instruction bytes join the line once its final state is in (Complete).
                _fatalErrorVcpu ??= _decision is null && (uint)request.Vcpu < (uint)_vcpus.Length ? request.Vcpu : null;
                Decide(ExitStatus.GuestFatal, "report-fatal-error", $"TDG.VP.VMCALL<{request.Detail}>");
                break;
            case GuestStopKind.GuestFatal:
                Decide(ExitStatus.GuestFatal, "guest-fatal", request.Detail);
                break;
            case GuestStopKind.InstructionLimit:
                Decide(ExitStatus.LimitReached, "instruction-limit", request.Detail);
                break;
            case GuestStopKind.ReplyTimeout:
                Decide(ExitStatus.LimitReached, "reply-timeout", request.Detail);
                break;
            default:
                Decide(ExitStatus.InternalError, "internal-error", request.Detail);
                break;
        }
    }

    private void OnHalted(VcpuHalted halted)
    {
        int v = halted.Vcpu;
        if ((uint)v >= (uint)_halted.Length || _decision is not null)
        {
            return;
        }

        if (!halted.InterruptsBlocked && _wiring.HltWakeNs is ulong wakeNs)
        {
            // The host makes the vCPU runnable again after a while (KVM selftest verify_guest_hlt).
            IActorRef vmm = _wiring.PerVcpuVmm ? _vmms[v] : _vmms[0];
            Timers.StartSingleTimer(new WakeDue(v, vmm), new WakeDue(v, vmm), TimeSpan.FromTicks((long)(wakeNs / 100)));
            return;
        }

        if (!_halted[v])
        {
            _halted[v] = true;
            _haltedWithInterrupts[v] = !halted.InterruptsBlocked;
            _haltedCount++;
        }

        _haltedWithTimer[v] = !halted.InterruptsBlocked && halted.TimerArmed;
        if (_haltedCount == _halted.Length && Array.IndexOf(_haltedWithTimer, true) < 0)
        {
            if (Array.IndexOf(_haltedWithInterrupts, true) is int i and >= 0)
            {
                // Nothing can ever wake it: no timer is armed and no vCPU runs to send an IPI. Treat it as a hang.
                Decide(ExitStatus.LimitReached, "deadlock", $"every vCPU is halted and vCPU {i} waits with interrupts enabled for an interrupt that cannot come");
            }
            else
            {
                Decide(ExitStatus.Success, "halted", "every vCPU halted with interrupts disabled");
            }
        }
    }

    /// <summary>
    /// A host API call from the VMM: the machine is the host kernel. What the VM type forbids is refused here, as KVM
    /// refuses the ioctl (seed 004), and never reaches the vCPU; memory calls are checked against guest memory; every
    /// other call goes to its vCPU, which carries it out on its own state and answers the VMM.
    /// </summary>
    private void OnHostCall(HostVcpuCall call)
    {
        HostCallResult policy = HostVcpuApi.Policy(_wiring.VmType, call.Call);
        if (!policy.Succeeded)
        {
            Sender.Tell(new HostVcpuCallCompleted(call.Vcpu, call.Call, call.Id, policy.Errno, policy.Reason, HostVcpuData.None), Self);
            return;
        }

        if (call.Call is HostCall.ReadOnlyMemory or HostCall.PrivateMemoryAttribute)
        {
            string name = HostVcpuApi.Name(call.Call);
            ulong gpa = call.Data.Value, size = call.Data.Size;
            string? problem = ((gpa | size) & (Abi.GuestPhysical.PageSize - 1)) != 0 ? "the range must be page aligned"
                : size == 0 ? "the range is empty"
                : gpa >= _wiring.MemoryBytes || size > _wiring.MemoryBytes - gpa ? $"[0x{gpa:x}, 0x{gpa + size:x}) is outside guest memory [0, 0x{_wiring.MemoryBytes:x})"
                : null;
            Sender.Tell(problem is null
                ? new HostVcpuCallCompleted(call.Vcpu, call.Call, call.Id, 0, null, new HostVcpuData { Value = gpa, Size = size })
                : new HostVcpuCallCompleted(call.Vcpu, call.Call, call.Id, HostCallResult.Einval, $"{name}: {problem}", HostVcpuData.None), Self);
            return;
        }

        if ((uint)call.Vcpu >= (uint)_vcpus.Length || _vcpus[call.Vcpu] is null)
        {
            Sender.Tell(new HostVcpuCallCompleted(call.Vcpu, call.Call, call.Id, HostCallResult.Einval, $"{HostVcpuApi.Name(call.Call)}: no vCPU {call.Vcpu}", HostVcpuData.None), Self);
            return;
        }

        _vcpus[call.Vcpu].Tell(call with { VmType = _wiring.VmType }, Sender);
    }

    /// <summary>A halted vCPU was woken (a posted interrupt: an IPI or its APIC timer).</summary>
    private void OnWoke(VcpuWoke woke)
    {
        int v = woke.Vcpu;
        if ((uint)v < (uint)_halted.Length && _halted[v])
        {
            _halted[v] = false;
            _haltedWithTimer[v] = false;
            _haltedCount--;
        }
    }

    private void OnReported(SelftestReported report) => _reports.Add(report.Value);

    private void Decide(int status, string reason, string detail)
    {
        if (_decision is not null)
        {
            return;
        }

        _decision = (status, reason, detail);
        _statesPending = 0;
        for (int i = 0; i < _vcpus.Length; i++)
        {
            if (_vcpus[i] is { } vcpu && _finalStates[i] is null)
            {
                _statesPending++;
                vcpu.Tell(new StopVcpu(i), Self);
            }
        }

        if (_statesPending == 0)
        {
            Complete();
            return;
        }

        Timers.StartSingleTimer(StopCollectionTimedOut.Instance, StopCollectionTimedOut.Instance, StopCollectionTimeout);
    }

    private void OnVcpuStopped(VcpuStopped stopped)
    {
        if ((uint)stopped.Vcpu >= (uint)_finalStates.Length || _finalStates[stopped.Vcpu] is not null)
        {
            return;
        }

        _finalStates[stopped.Vcpu] = new VcpuFinalState(stopped.Vcpu, stopped.State, stopped.Instructions, stopped.Rip, stopped.Rflags, stopped.Regs);
        if (_decision is not null && --_statesPending == 0)
        {
            Complete();
        }
    }

    private void OnTerminated(Terminated terminated)
    {
        int i = Array.IndexOf(_vcpus, terminated.ActorRef);
        if (i >= 0 && _finalStates[i] is null)
        {
            _finalStates[i] = new VcpuFinalState(i, "lost", 0, 0, 0, default);
            if (_decision is null)
            {
                Decide(ExitStatus.InternalError, "internal-error", $"vCPU {i} stopped unexpectedly");
            }
            else if (--_statesPending == 0)
            {
                Complete();
            }
        }
    }

    private void Complete()
    {
        if (_wiring.Completion.Task.IsCompleted || _decision is not { } d)
        {
            return;
        }

        // The run is over: the vCPUs stop with the system, and their Terminated must not reach a stopped machine.
        foreach (IActorRef vcpu in _vcpus)
        {
            if (vcpu is not null)
            {
                Context.Unwatch(vcpu);
            }
        }

        var states = new VcpuFinalState[_finalStates.Length];
        for (int i = 0; i < states.Length; i++)
        {
            states[i] = _finalStates[i] ?? new VcpuFinalState(i, "lost", 0, 0, 0, default);
        }

        string detail = d.Detail;
        if (_fatalErrorVcpu is int v)
        {
            // Contract section 2, status 4: name the vCPU, RIP and instruction bytes (the TDCALL still pending).
            detail = _wiring.GuestFatalDetail(v, states[v].Rip, detail);
        }

        _wiring.Completion.TrySetResult(new MachineOutcome(d.Status, d.Reason, detail, states, [.. _reports], _unexpectedReplies, _postCodes, _quotes, [.. _resumedFatalErrors]));
    }

    private sealed record ChildFailed(string Detail);

    /// <summary>The host's HLT wake-up delay for a vCPU is over: the VMM that holds its HLT makes it runnable.</summary>
    private sealed record WakeDue(int Vcpu, IActorRef Vmm);

    private sealed class TimeLimitReached
    {
        public static readonly TimeLimitReached Instance = new();
    }

    private sealed class StopCollectionTimedOut
    {
        public static readonly StopCollectionTimedOut Instance = new();
    }

    private sealed class ReplyWatchdogTick
    {
        public static readonly ReplyWatchdogTick Instance = new();
    }
}

/// <summary>The user stopped the run (SIGINT, SIGTERM): stop the vCPUs, collect their states, end with <paramref name="Status"/>.</summary>
internal sealed record StopRequestedByHost(string Signal, int Status);

/// <summary>A group of sibling actors created together (the <c>vcpu</c> and per-vCPU <c>vmm</c> groups).</summary>
internal sealed record GroupReady(string Name);

/// <summary>
/// Creates its members when it starts, publishes their refs into <c>refs</c> and tells its parent. Failures of
/// members escalate to the parent, which owns the TD's fate.
/// </summary>
internal sealed class GroupActor : TdxActor
{
    public GroupActor((string Name, Props Props)[] members, IActorRef[] refs)
    {
        for (int i = 0; i < members.Length; i++)
        {
            refs[i] = Context.ActorOf(members[i].Props, members[i].Name);
        }

        Context.Parent.Tell(new GroupReady(Self.Path.Name), Self);
    }

    protected override SupervisorStrategy SupervisorStrategy() => new OneForOneStrategy(_ => Directive.Escalate, loggingEnabled: false);
}
