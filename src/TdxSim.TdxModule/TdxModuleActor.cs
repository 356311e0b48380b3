using TdxSim.Abi.Messages;
using Akka.Actor;
using TdxSim.Runtime;

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

    /// <summary>Creates the actor; use <see cref="CreateProps(TdxModuleCore, Func{int, IActorRef})"/>.</summary>
    public TdxModuleActor(TdxModuleCore core, Func<int, IActorRef> vmmFor, IActorRef?[] waitingVcpus)
    {
        _core = core;
        _vmmFor = vmmFor;
        _waitingVcpus = waitingVcpus;
        Receive<TdcallRequested>(OnTdcall);
        Receive<TdVmcallCompleted>(OnVmcallCompleted);
        Receive<TdExited>(OnTdExited);
    }

    /// <summary>Props for a module whose vCPUs all talk to one VMM actor.</summary>
    public static Props CreateProps(TdxModuleCore core, IActorRef vmm)
    {
        ArgumentNullException.ThrowIfNull(vmm);
        return CreateProps(core, _ => vmm);
    }

    /// <summary>Props for a module that routes each vCPU's TDG.VP.VMCALLs to <paramref name="vmmFor"/>(vCPU index), e.g. one VMM per vCPU.</summary>
    public static Props CreateProps(TdxModuleCore core, Func<int, IActorRef> vmmFor)
    {
        ArgumentNullException.ThrowIfNull(core);
        ArgumentNullException.ThrowIfNull(vmmFor);
        var waiting = new IActorRef?[core.VcpuCount];
        return Props.Create(() => new TdxModuleActor(core, vmmFor, waiting));
    }

    private void OnTdcall(TdcallRequested request)
    {
        TdcallOutcome outcome = _core.HandleTdcall(request);
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

    private void OnVmcallCompleted(TdVmcallCompleted reply)
    {
        TdcallCompleted? completion = _core.CompleteVmcall(reply);
        if (completion is null)
        {
            return;
        }

        IActorRef vcpu = _waitingVcpus[completion.Vcpu]!;
        _waitingVcpus[completion.Vcpu] = null;
        vcpu.Tell(completion, Self);
    }

    private void OnTdExited(TdExited exit) => Sender.Tell(_core.HandleTdExit(exit), Self);
}
