using TdxSim.Abi;
using TdxSim.Abi.Faults;
using TdxSim.Abi.Messages;
using Akka.Actor;
using TdxSim.Runtime;
using TdxSim.TdxModule.Memory;

namespace TdxSim.TdxModule;

/// <summary>
/// The TDX module as an actor over a <see cref="TdxModuleCore"/>:
/// <list type="bullet">
/// <item><see cref="TdcallRequested"/> from a vCPU: the completed leaf goes back to the sender as
/// <see cref="TdcallCompleted"/>; TDG.VP.VMCALL goes to that vCPU's VMM as <see cref="TdVmcallRequested"/>; a
/// leaf stopped by an EPT violation on its operand goes back as <see cref="TdEntered"/> (#VE, #DF or TdKilled).</item>
/// <item><see cref="TdVmcallCompleted"/> from a VMM: the guest-visible completion goes to the vCPU that made the
/// VMCALL. A reply for a vCPU with no VMCALL in flight is dropped and counted (<see cref="TdxModuleCounters"/>).</item>
/// <item><see cref="TdExited"/> from a vCPU: <see cref="TdEntered"/> back to the sender.</item>
/// </list>
/// Correlation ids flow through the runtime: every message sent here inherits the id of the message handled.
/// The core owns all state, so a restart loses nothing; the vCPU reply-to table lives outside the actor instance
/// for the same reason. A core exception (an unknown vCPU, a vCPU breaking the protocol) is an emulator bug and
/// fails the actor for its supervisor to see.
/// </summary>
public sealed class TdxModuleActor : TdxActor
{
    private readonly TdxModuleCore _core;
    private readonly Func<int, IActorRef> _vmmFor;
    private readonly IActorRef?[] _waitingVcpus;
    private readonly HostFaultInjector? _faults;

    /// <summary>Creates the actor; use <see cref="CreateProps(TdxModuleCore, Func{int, IActorRef}, HostFaultInjector)"/>.</summary>
    public TdxModuleActor(TdxModuleCore core, Func<int, IActorRef> vmmFor, IActorRef?[] waitingVcpus, HostFaultInjector? faults = null)
    {
        _core = core;
        _faults = faults;
        _vmmFor = vmmFor;
        _waitingVcpus = waitingVcpus;

        // Every message of this actor is on a hot path, so all of them are taken by ReceiveDirect.
    }

    /// <inheritdoc/>
    protected override bool ReceiveDirect(object message)
    {
        // Its three messages; anything else is unhandled.
        switch (message)
        {
            case TdcallRequested request:
                OnTdcall(request);
                return true;
            case TdVmcallCompleted completed:
                OnVmcallCompleted(completed);
                return true;
            case TdExited exited:
                OnTdExited(exited);
                return true;
            default:
                return false;
        }
    }

    /// <summary>Props for a module whose vCPUs all talk to one VMM actor.</summary>
    public static Props CreateProps(TdxModuleCore core, IActorRef vmm)
    {
        ArgumentNullException.ThrowIfNull(vmm);
        return CreateProps(core, _ => vmm);
    }

    /// <summary>Props for a module that routes each vCPU's TDG.VP.VMCALLs to <paramref name="vmmFor"/>(vCPU index), e.g. one VMM per vCPU.</summary>
    /// <param name="core">The module's state.</param>
    /// <param name="vmmFor">The VMM of each vCPU.</param>
    /// <param name="faults">A hostile host's fault decisions (OPERAND_BUSY on leaves that take host-contended locks), or null.</param>
    public static Props CreateProps(TdxModuleCore core, Func<int, IActorRef> vmmFor, HostFaultInjector? faults = null)
    {
        ArgumentNullException.ThrowIfNull(core);
        ArgumentNullException.ThrowIfNull(vmmFor);
        var waiting = new IActorRef?[core.VcpuCount];
        return Props.Create(() => new TdxModuleActor(core, vmmFor, waiting, faults));
    }

    private void OnTdcall(TdcallRequested request)
    {
        if (_faults is not null && TryBusy(request))
        {
            return;
        }

        TdcallOutcome outcome = _core.HandleTdcall(request, Timing());
        switch (outcome.Kind)
        {
            case TdcallOutcomeKind.ForwardToVmm:
                _waitingVcpus[request.Vcpu] = Sender;
                _vmmFor(request.Vcpu).Tell(outcome.VmcallRequest!, Self);
                break;
            case TdcallOutcomeKind.Faulted:
                Sender.Tell(outcome.Fault!, Self);
                break;
            default:
                Sender.Tell(outcome.Completion!, Self);
                break;
        }
    }

    /// <summary>
    /// When this handling runs, for the TD-scope locks it takes. On the deterministic dispatcher the handlings of all
    /// module actors run one at a time on one thread, so a lock is held in virtual time: from the handling's start
    /// (the scheduler's time) to its end (the runtime clock, which adds the cost model's price of this TDCALL). On real
    /// threads the core's try-locks are real.
    /// </summary>
    private SeptTiming Timing()
    {
        if (Runtime.Deterministic is null || Runtime.VirtualTime is not { } time)
        {
            return SeptTiming.RealTime;
        }

        long start = time.NowNanoseconds;
        return SeptTiming.At(start, Math.Max(start, Now));
    }

    /// <summary>
    /// A hostile host holding the SEPT lock (TDG.MEM.PAGE.ACCEPT) or contending for an RTMR (TDG.MR.RTMR.EXTEND):
    /// the leaf fails with TDX_OPERAND_BUSY on RCX and changes nothing.
    /// </summary>
    private bool TryBusy(TdcallRequested request)
    {
        ushort leaf = request.LeafNumber;
        if (leaf is not ((ushort)TdcallLeaf.MemPageAccept or (ushort)TdcallLeaf.MrRtmrExtend)
            || !_faults!.Draw(HostFaultInjector.Module, request.Vcpu, HostFaultSet.OperandBusy, out _, out _))
        {
            return false;
        }

        string name = TdcallLeafInfo.SpecName(leaf) ?? "TDCALL";
        _faults.Record(new InjectedFault(request.Vcpu, "tdx-module", HostFaultSet.OperandBusy, name,
            $"RAX = 0x{TdxStatus.OperandBusy + 1:x} (TDX_OPERAND_BUSY, RCX): the host holds the lock"));
        Gprs regs = default;
        regs[Gpr.Rax] = TdxStatus.OperandBusy + 1;
        Sender.Tell(new TdcallCompleted(request.Vcpu, leaf, GprMask.Rax, regs) { InjectedFault = HostFaultNames.Name(HostFaultSet.OperandBusy) }, Self);
        return true;
    }

    private void OnVmcallCompleted(TdVmcallCompleted reply)
    {
        TdcallCompleted? completion = _core.CompleteVmcall(reply);
        if (completion is null)
        {
            return;
        }

        if (reply.InjectedFault is { } fault)
        {
            completion = completion with { InjectedFault = fault };
        }

        IActorRef vcpu = _waitingVcpus[completion.Vcpu]!;
        _waitingVcpus[completion.Vcpu] = null;
        vcpu.Tell(completion, Self);
    }

    private void OnTdExited(TdExited exit) => Sender.Tell(_core.HandleTdExit(exit), Self);
}
