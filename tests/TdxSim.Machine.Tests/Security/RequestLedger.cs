using Akka.Actor;
using TdxSim.Abi;
using TdxSim.Abi.Messages;
using TdxSim.Runtime.Tracing;

namespace TdxSim.Machine.Tests.Security;

/// <summary>
/// Counts every delivered request and its answer by kind, to check that nothing was lost: TDVMCALL requests against
/// VMM replies, #VE injections against TDG.VP.VEINFO.GET, TDCALLs against completions, TD exits against entries.
/// </summary>
internal sealed class RequestLedger : IDeliveryObserver
{
    private long _tdcalls, _tdcallsCompleted, _veinfoGets, _vmcallLeaves;
    private long _vmcalls, _vmcallsCompleted;
    private long _exits, _entries, _veInjected;
    private long _delivered, _undelivered;

    public long Tdcalls => Interlocked.Read(ref _tdcalls);

    public long TdcallsCompleted => Interlocked.Read(ref _tdcallsCompleted);

    public long VeinfoGets => Interlocked.Read(ref _veinfoGets);

    public long VmcallLeaves => Interlocked.Read(ref _vmcallLeaves);

    public long Vmcalls => Interlocked.Read(ref _vmcalls);

    public long VmcallsCompleted => Interlocked.Read(ref _vmcallsCompleted);

    public long Exits => Interlocked.Read(ref _exits);

    public long Entries => Interlocked.Read(ref _entries);

    public long VeInjected => Interlocked.Read(ref _veInjected);

    public long Delivered => Interlocked.Read(ref _delivered);

    public long Undelivered => Interlocked.Read(ref _undelivered);

    public bool WantsSendTimes => false;

    public override string ToString() =>
        $"delivered {Delivered}, undelivered {Undelivered}; TDCALL {Tdcalls} -> completed {TdcallsCompleted} (VEINFO.GET {VeinfoGets}, VP.VMCALL {VmcallLeaves}); " +
        $"TDVMCALL to VMM {Vmcalls} -> replies {VmcallsCompleted}; TD exits {Exits} -> entries {Entries} (#VE injected {VeInjected})";

    public void OnDelivered(in Delivery delivery, IActorRef recipient)
    {
        Interlocked.Increment(ref _delivered);
        switch (delivery.Message)
        {
            case TdcallRequested r:
                Interlocked.Increment(ref _tdcalls);
                switch ((TdcallLeaf)(ushort)r.Regs[Gpr.Rax])
                {
                    case TdcallLeaf.VpVeinfoGet:
                        Interlocked.Increment(ref _veinfoGets);
                        break;
                    case TdcallLeaf.VpVmcall:
                        Interlocked.Increment(ref _vmcallLeaves);
                        break;
                }

                break;
            case TdcallCompleted:
                Interlocked.Increment(ref _tdcallsCompleted);
                break;
            case TdVmcallRequested:
                Interlocked.Increment(ref _vmcalls);
                break;
            case TdVmcallCompleted:
                Interlocked.Increment(ref _vmcallsCompleted);
                break;
            case TdExited:
                Interlocked.Increment(ref _exits);
                break;
            case TdEntered e:
                Interlocked.Increment(ref _entries);
                if (e.Action == TdEntryAction.VeInjected)
                {
                    Interlocked.Increment(ref _veInjected);
                }

                break;
        }
    }

    public void OnUndelivered(in Delivery delivery, IActorRef recipient, UndeliveredReason reason)
    {
        // Akka's own housekeeping while the system shuts down (an EventStream unsubscriber's dead letter) is not a
        // TD message; every TD message must reach its handler.
        if (delivery.Message is not TdxSim.Abi.Messages.ITdxMessage)
        {
            return;
        }

        Interlocked.Increment(ref _undelivered);
        lock (_undeliveredWhat)
        {
            _undeliveredWhat.Add($"{reason} {delivery.Message.GetType().Name} to {recipient.Path}: {delivery.Message}");
        }
    }

    private readonly List<string> _undeliveredWhat = [];

    /// <summary>What was undelivered, one line each.</summary>
    public IReadOnlyList<string> UndeliveredWhat
    {
        get
        {
            lock (_undeliveredWhat)
            {
                return [.. _undeliveredWhat];
            }
        }
    }
}
