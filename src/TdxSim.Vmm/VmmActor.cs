using TdxSim.Abi.Faults;
using TdxSim.Abi.Messages;
using Akka.Actor;
using TdxSim.Runtime;
using TdxSim.Vmm.HostApi;
using TdxSim.Vmm.Hostile;

namespace TdxSim.Vmm;

/// <summary>
/// The VMM as an actor around a <see cref="VmmCore"/>. Protocol:
/// <list type="bullet">
/// <item><see cref="TdVmcallRequested"/> (from the TDX module): handled by the core; the
/// <see cref="TdVmcallCompleted"/> goes back to the sender, and the core's events (<see cref="GuestStopRequested"/>,
/// <see cref="SelftestReported"/>, <see cref="PostCodeWritten"/>, <see cref="VcpuHalted"/>) go to the machine, in
/// that order: events first, so the machine learns of a stop request before the guest runs on.</item>
/// <item>A device access that ends the TD (debug exit 0xF4, selftest success 0x30): the event goes to the machine
/// and the access is never completed, as when QEMU's isa-debug-exit ends the process.</item>
/// <item>Instruction.HLT: no reply; the sender is remembered until <see cref="WakeHaltedVcpu"/> (from the machine)
/// makes the vCPU runnable, then the HLT's SUCCESS reply goes to it.</item>
/// <item>GetQuote: SUCCESS at once; after the quoting delay (scheduler time, virtual in deterministic runs) the quote
/// is written and <see cref="QuoteCompleted"/> goes to the machine.</item>
/// <item>A request the core refuses as a protocol violation (unknown vCPU, a halted vCPU calling) is not answered;
/// the machine gets <see cref="GuestStopRequested"/> of kind <see cref="GuestStopKind.InternalError"/> naming it.</item>
/// </list>
/// Several VMM actors may share one core ("per-vcpu" mode): each then receives the requests of its own vCPUs, and a
/// <see cref="WakeHaltedVcpu"/> must go to the actor that received that vCPU's HLT (others ignore it).
/// </summary>
public sealed class VmmActor : TdxActor, IWithTimers
{
    /// <summary>Default time between accepting a GetQuote and writing the quote.</summary>
    public static readonly TimeSpan DefaultQuoteDelay = TimeSpan.FromMilliseconds(1);

    private readonly VmmCore _core;
    private readonly IActorRef _machine;
    private readonly TimeSpan _quoteDelay;
    private readonly IActorRef?[] _haltedCallers;
    private readonly HostFaultInjector? _faults;
    private readonly bool[] _endlessRetry;
    private readonly IHostCallDriver? _hostCalls;
    private readonly Queue<HostCallBatch> _hostCallBatches = new();
    private long _delayedReplies;

    /// <inheritdoc/>
    public ITimerScheduler Timers { get; set; } = null!;

    /// <summary>Creates the actor; use <see cref="Props(VmmCore, IActorRef, TimeSpan?, HostFaultInjector, IHostCallDriver)"/>.</summary>
    public VmmActor(VmmCore core, IActorRef machine, TimeSpan quoteDelay, HostFaultInjector? faults = null, IHostCallDriver? hostCalls = null)
    {
        ArgumentNullException.ThrowIfNull(core);
        ArgumentNullException.ThrowIfNull(machine);
        ArgumentOutOfRangeException.ThrowIfLessThan(quoteDelay, TimeSpan.Zero);
        _core = core;
        _machine = machine;
        _quoteDelay = quoteDelay;
        _haltedCallers = new IActorRef?[core.VcpuCount];
        _faults = faults;
        _endlessRetry = new bool[core.VcpuCount];
        _hostCalls = hostCalls;

        // TdVmcallRequested: ReceiveDirect, below.
        Receive<HostVcpuCallCompleted>(OnHostCallCompleted);
        Receive<DelayedReply>(d => d.To.Tell(d.Reply, Self));
        Receive<WakeHaltedVcpu>(OnWake);
        Receive<QuoteGenerationDue>(OnQuoteDue);
        Receive<AttachVcpus>(a =>
        {
            _vcpus = [.. a.Vcpus];
            _vmmOf = a.VmmOfVcpu is { } v ? [.. v] : null;
        });
        Receive<InterruptWake>(w => WakeForInterrupt(w.Vcpu));
        Receive<GuestTimerExpired>(e => Route(_core.TimerExpired(e.Vcpu, e.Generation, e.Tsc)));
    }

    /// <inheritdoc/>
    protected override bool ReceiveDirect(object message)
    {
        // The TDVMCALL path (registered nowhere else).
        if (message is TdVmcallRequested request)
        {
            OnRequested(request);
            return true;
        }

        return false;
    }

    /// <summary>The vCPU actors, for posted interrupts and timer programming (null until the machine attaches them).</summary>
    private IActorRef[]? _vcpus;

    /// <summary>The VMM actor that takes each vCPU's requests (several with a per-vCPU VMM), or null: this one.</summary>
    private IActorRef[]? _vmmOf;

    /// <summary>A posted interrupt wakes its target if it is halted here with interrupts enabled.</summary>
    private void WakeForInterrupt(int vcpu)
    {
        if ((uint)vcpu < (uint)_haltedCallers.Length && _haltedCallers[vcpu] is not null && !_core.HaltedWithInterruptsBlocked(vcpu))
        {
            OnWake(new WakeHaltedVcpu(vcpu));
        }
    }

    /// <summary>
    /// Sends the APIC emulation's effects: timer programming and posted interrupts to the vCPU actors (the
    /// posted-interrupt notification), and wakes a target halted with interrupts enabled (KVM wakes a blocked vCPU
    /// when its PIR gets a bit). Other events go to the machine.
    /// </summary>
    private void Route(IReadOnlyList<ITdxMessage> effects)
    {
        foreach (ITdxMessage e in effects)
        {
            switch (e)
            {
                case PostedInterrupt p when _vcpus is { } vcpus && (uint)p.Vcpu < (uint)vcpus.Length:
                    vcpus[p.Vcpu].Tell(p, Self);
                    if (_vmmOf is { } owners && (uint)p.Vcpu < (uint)owners.Length && !owners[p.Vcpu].Equals(Self))
                    {
                        owners[p.Vcpu].Tell(new InterruptWake(p.Vcpu), Self); // its HLT is held by another VMM actor
                    }
                    else
                    {
                        WakeForInterrupt(p.Vcpu);
                    }

                    break;
                case ArmGuestTimer a when _vcpus is { } vcpus && (uint)a.Vcpu < (uint)vcpus.Length:
                    vcpus[a.Vcpu].Tell(a, Self);
                    break;
                case PostedInterrupt or ArmGuestTimer:
                    break; // no vCPUs attached (a VMM driven without a machine): nothing to deliver to
                default:
                    _machine.Tell(e, Self);
                    break;
            }
        }
    }

    /// <summary>Props for a VMM actor over <paramref name="core"/> reporting to <paramref name="machine"/>.</summary>
    /// <param name="core">The VMM logic, possibly shared by several actors.</param>
    /// <param name="machine">Receives stop requests, reports, halts and quote completions.</param>
    /// <param name="quoteDelay">GetQuote latency; default <see cref="DefaultQuoteDelay"/>.</param>
    /// <param name="faults">A hostile host's fault decisions (contract section 10), or null for an honest VMM.</param>
    /// <param name="hostCalls">Host API calls the VMM makes on the vCPUs while it handles their exits, or null: none.</param>
    public static Props Props(VmmCore core, IActorRef machine, TimeSpan? quoteDelay = null, HostFaultInjector? faults = null, IHostCallDriver? hostCalls = null)
    {
        TimeSpan delay = quoteDelay ?? DefaultQuoteDelay;
        return Akka.Actor.Props.Create(() => new VmmActor(core, machine, delay, faults, hostCalls));
    }

    private void OnRequested(TdVmcallRequested request)
    {
        if (_hostCalls is not null)
        {
            // Host calls first (the vCPU waits in its exit meanwhile), one at a time; the TDVMCALL once they are done.
            var batch = new HostCallBatch(request, Sender);
            _hostCallBatches.Enqueue(batch);
            if (_hostCallBatches.Count == 1)
            {
                NextHostCall(batch, null);
            }

            return;
        }

        Handle(request, Sender);
    }

    private void OnHostCallCompleted(HostVcpuCallCompleted completion)
    {
        if (_hostCallBatches.TryPeek(out HostCallBatch? batch) && batch.InFlight == completion.Id)
        {
            NextHostCall(batch, completion);
        }
    }

    /// <summary>Makes the head batch's next host call, or, when there is none, handles its TDVMCALL and starts the next batch.</summary>
    private void NextHostCall(HostCallBatch batch, HostVcpuCallCompleted? previous)
    {
        while (true)
        {
            if (_hostCalls!.Next(batch.Request, previous) is { } call)
            {
                batch.InFlight = call.Id;
                _machine.Tell(call, Self);
                return;
            }

            _hostCallBatches.Dequeue();
            Handle(batch.Request, batch.ReplyTo);
            if (!_hostCallBatches.TryPeek(out HostCallBatch? next))
            {
                return;
            }

            batch = next;
            previous = null;
        }
    }

    private void Handle(TdVmcallRequested request, IActorRef replyTo)
    {
        HostFaultSet fault = HostFaultSet.None;
        ulong random = 0;
        if (_faults is not null && (uint)request.Vcpu < (uint)_endlessRetry.Length)
        {
            HostFaultSet eligible = HostileReplies.Eligible(request);
            if ((eligible & HostFaultSet.EndlessRetry) != 0 && _endlessRetry[request.Vcpu])
            {
                // Once a vCPU's MapGPA is stuck, it stays stuck: every MapGPA from it is RETRY without progress.
                replyTo.Tell(HostileReplies.EndlessRetry(request), Self);
                return;
            }

            if (_faults.Draw(HostFaultInjector.Vmm, request.Vcpu, eligible, out fault, out random) && fault == HostFaultSet.EndlessRetry)
            {
                _endlessRetry[request.Vcpu] = true;
                Inject(request, fault, "RETRY with R11 = the start GPA, for every MapGPA of this vCPU from now on");
                replyTo.Tell(HostileReplies.EndlessRetry(request), Self);
                return;
            }
        }

        VmcallOutcome outcome;
        try
        {
            outcome = _core.Handle(request);
        }
        catch (Exception e) when (e is ArgumentOutOfRangeException or InvalidOperationException)
        {
            _machine.Tell(new GuestStopRequested(request.Vcpu, GuestStopKind.InternalError, 0, $"VMM: {e.Message}"), Self);
            return;
        }

        bool tdExiting = false;
        foreach (ITdxMessage e in outcome.Events)
        {
            tdExiting |= e is GuestStopRequested { Kind: GuestStopKind.DebugExit or GuestStopKind.SelftestSuccess };
        }

        Route(outcome.Events);

        switch (outcome.Disposition)
        {
            case VmcallDisposition.Completed when tdExiting:
                // The guest asked the host to end the TD (debug exit, selftest success): like QEMU's isa-debug-exit,
                // the host exits without completing the access, so no vCPU runs on after it.
                break;
            case VmcallDisposition.Completed when fault != HostFaultSet.None:
                ReplyHostile(request, replyTo, outcome.Reply!, fault, random);
                break;
            case VmcallDisposition.Completed:
                replyTo.Tell(outcome.Reply!, Self);
                break;
            case VmcallDisposition.Halted:
                _haltedCallers[request.Vcpu] = replyTo;
                break;
            case VmcallDisposition.NoReply:
                break;
        }

        if (outcome.PendingQuote is { } quote)
        {
            // One timer per quote (its request is the key): concurrent GetQuotes each complete after their own delay.
            Timers.StartSingleTimer(quote, new QuoteGenerationDue(quote), _quoteDelay);
        }
    }

    private void ReplyHostile(TdVmcallRequested request, IActorRef replyTo, TdVmcallCompleted reply, HostFaultSet fault, ulong random)
    {
        string faultName = HostFaultNames.Name(fault);
        switch (fault)
        {
            case HostFaultSet.NoReply:
                // Withheld for ever: the vCPU's reply watchdog ends the run (status 6), naming the vCPU and request.
                Inject(request, fault, "the reply is withheld");
                _machine.Tell(new HostFaultInjected(request.Vcpu, faultName, HostileReplies.RequestName(request), "reply withheld"), Self);
                return;

            case HostFaultSet.Delay:
            {
                TimeSpan delay = HostileReplies.Delay(random);
                Inject(request, fault, string.Create(System.Globalization.CultureInfo.InvariantCulture, $"the reply comes {delay.TotalMilliseconds:F1} ms late"));
                Timers.StartSingleTimer(new DelayKey(++_delayedReplies), new DelayedReply(replyTo, reply with { InjectedFault = faultName }), delay);
                return;
            }

            case HostFaultSet.SpuriousVe:
            {
                ulong gpa = request.Regs[Abi.Gpr.R12];
                bool zapped = _core.ZapSharedPage(gpa);
                Inject(request, fault, zapped
                    ? $"converted, then the shared page of 0x{gpa:x} was zapped: its next access through the shared alias takes a #VE"
                    : "nothing to zap");
                replyTo.Tell(reply with { InjectedFault = faultName }, Self);
                return;
            }

            default:
            {
                TdVmcallCompleted bent = HostileReplies.Corrupt(fault, request, reply, random, out string detail);
                Inject(request, fault, detail);
                replyTo.Tell(bent, Self);
                return;
            }
        }
    }

    private void Inject(TdVmcallRequested request, HostFaultSet fault, string detail)
        => _faults!.Record(new InjectedFault(request.Vcpu, "vmm", fault, HostileReplies.RequestName(request), detail));

    private void OnWake(WakeHaltedVcpu wake)
    {
        if ((uint)wake.Vcpu >= (uint)_haltedCallers.Length || _haltedCallers[wake.Vcpu] is not { } caller)
        {
            return; // not halted here: waking is idempotent
        }

        _haltedCallers[wake.Vcpu] = null;
        if (_core.Wake(wake.Vcpu) is { } reply)
        {
            _machine.Tell(new VcpuWoke(wake.Vcpu), Self);
            caller.Tell(reply, Self);
        }
    }

    private void OnQuoteDue(QuoteGenerationDue due) => _machine.Tell(_core.CompleteQuote(due.Request), Self);
}

/// <summary>VMM to itself: a hostile host's delayed reply is due to <paramref name="To"/>.</summary>
public sealed record DelayedReply(IActorRef To, TdVmcallCompleted Reply) : ITdxMessage
{
    /// <inheritdoc/>
    public int Vcpu => Reply.Vcpu;

    string? ITdxMessage.Fault => Reply.InjectedFault;
}

/// <summary>A TDVMCALL waiting for the host calls the VMM makes first.</summary>
internal sealed class HostCallBatch(TdVmcallRequested request, IActorRef replyTo)
{
    public TdVmcallRequested Request { get; } = request;

    public IActorRef ReplyTo { get; } = replyTo;

    /// <summary>The id of the call in flight.</summary>
    public long InFlight { get; set; } = -1;
}

/// <summary>Machine to VMM: the vCPU actors, in vCPU order, where posted interrupts and timer programming go.</summary>
/// Wiring, not TD traffic: not an <see cref="ITdxMessage"/>, so its log line has no vCPU, leaf or registers.
/// <param name="Vcpus">The vCPU actors.</param>
/// <param name="VmmOfVcpu">The VMM actor that receives each vCPU's TDVMCALLs (per-vCPU VMMs), or null for one VMM.</param>
public sealed record AttachVcpus(IReadOnlyList<IActorRef> Vcpus, IReadOnlyList<IActorRef>? VmmOfVcpu = null);

/// <summary>VMM to VMM (per-vCPU VMMs): a posted interrupt for <paramref name="Vcpu"/>, whose HLT the receiver holds.</summary>
public sealed record InterruptWake(int Vcpu) : ITdxMessage;

/// <summary>The timer key of one delayed reply.</summary>
internal sealed record DelayKey(long Id);

/// <summary>VMM to itself: the quoting delay of an accepted GetQuote is over.</summary>
public sealed record QuoteGenerationDue(QuoteRequest Request) : ITdxMessage
{
    /// <inheritdoc/>
    public int Vcpu => Request.Vcpu;

    string? ITdxMessage.Subfn => "GetQuote";
}
