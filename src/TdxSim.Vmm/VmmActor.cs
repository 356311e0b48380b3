using TdxSim.Abi.Messages;
using Akka.Actor;
using TdxSim.Runtime;

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

    /// <inheritdoc/>
    public ITimerScheduler Timers { get; set; } = null!;

    /// <summary>Creates the actor; use <see cref="Props(VmmCore, IActorRef, TimeSpan?)"/>.</summary>
    public VmmActor(VmmCore core, IActorRef machine, TimeSpan quoteDelay)
    {
        ArgumentNullException.ThrowIfNull(core);
        ArgumentNullException.ThrowIfNull(machine);
        ArgumentOutOfRangeException.ThrowIfLessThan(quoteDelay, TimeSpan.Zero);
        _core = core;
        _machine = machine;
        _quoteDelay = quoteDelay;
        _haltedCallers = new IActorRef?[core.VcpuCount];

        Receive<TdVmcallRequested>(OnRequested);
        Receive<WakeHaltedVcpu>(OnWake);
        Receive<QuoteGenerationDue>(OnQuoteDue);
    }

    /// <summary>Props for a VMM actor over <paramref name="core"/> reporting to <paramref name="machine"/>.</summary>
    /// <param name="core">The VMM logic, possibly shared by several actors.</param>
    /// <param name="machine">Receives stop requests, reports, halts and quote completions.</param>
    /// <param name="quoteDelay">GetQuote latency; default <see cref="DefaultQuoteDelay"/>.</param>
    public static Props Props(VmmCore core, IActorRef machine, TimeSpan? quoteDelay = null)
    {
        TimeSpan delay = quoteDelay ?? DefaultQuoteDelay;
        return Akka.Actor.Props.Create(() => new VmmActor(core, machine, delay));
    }

    private void OnRequested(TdVmcallRequested request)
    {
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
            _machine.Tell(e, Self);
        }

        switch (outcome.Disposition)
        {
            case VmcallDisposition.Completed when tdExiting:
                // The guest asked the host to end the TD (debug exit, selftest success): like QEMU's isa-debug-exit,
                // the host exits without completing the access, so no vCPU runs on after it.
                break;
            case VmcallDisposition.Completed:
                Sender.Tell(outcome.Reply!, Self);
                break;
            case VmcallDisposition.Halted:
                _haltedCallers[request.Vcpu] = Sender;
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

    private void OnWake(WakeHaltedVcpu wake)
    {
        if ((uint)wake.Vcpu >= (uint)_haltedCallers.Length || _haltedCallers[wake.Vcpu] is not { } caller)
        {
            return; // not halted here: waking is idempotent
        }

        _haltedCallers[wake.Vcpu] = null;
        if (_core.Wake(wake.Vcpu) is { } reply)
        {
            caller.Tell(reply, Self);
        }
    }

    private void OnQuoteDue(QuoteGenerationDue due) => _machine.Tell(_core.CompleteQuote(due.Request), Self);
}

/// <summary>VMM to itself: the quoting delay of an accepted GetQuote is over.</summary>
public sealed record QuoteGenerationDue(QuoteRequest Request) : ITdxMessage
{
    /// <inheritdoc/>
    public int Vcpu => Request.Vcpu;

    string? ITdxMessage.Subfn => "GetQuote";
}
