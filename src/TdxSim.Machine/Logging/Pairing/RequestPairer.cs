using System.Runtime.InteropServices;

namespace TdxSim.Machine.Logging.Pairing;

/// <summary>
/// Groups delivered messages, in delivery order, into guest-visible requests (<see cref="TdxRequest"/>). Shared by
/// the Chrome trace writer (live) and <c>tdxsim inspect</c> (from a log file).
/// </summary>
/// <remarks>
/// <para>A vCPU has at most one request in flight, because it is blocked from its TD exit or TDCALL until the
/// module resumes it. The rules, per vCPU:</para>
/// <list type="bullet">
/// <item><c>TdExited</c> starts an exit request (ending the previous request of that vCPU).</item>
/// <item><c>TdcallRequested</c> joins the open exit request when it has the same correlation id and nothing is in
/// flight (a TDCALL of the guest kernel's #VE handler); otherwise it starts a paravirt TDCALL request.</item>
/// <item>Replies and <c>TdVmcallRequested</c> join the open request when their correlation id matches and something
/// is waiting for them (a <c>TdEntered</c> answers the exit, a <c>TdcallCompleted</c> a TDCALL, a
/// <c>TdVmcallRequested</c> belongs to a TDCALL in flight, a <c>TdVmcallCompleted</c> answers it). Anything else
/// is reported as unmatched.</item>
/// <item>A paravirt TDCALL request ends at its <c>TdcallCompleted</c>. An exit request ends when the vCPU starts
/// its next request or at <see cref="Finish"/>, since only then is it known that the #VE handler made no further
/// TDCALL.</item>
/// </list>
/// <para>Allocation: requests and their hop lists are pooled; steady state allocates nothing.</para>
/// </remarks>
public sealed class RequestPairer
{
    private readonly IRequestObserver _observer;
    private readonly Stack<TdxRequest> _pool = new();
    private const int DenseVcpus = 1024;
    private readonly Dictionary<int, TdxRequest?> _sparse = [];
    private TdxRequest?[] _open = new TdxRequest?[8];

    /// <summary>Creates a pairer reporting to <paramref name="observer"/>.</summary>
    public RequestPairer(IRequestObserver observer)
    {
        ArgumentNullException.ThrowIfNull(observer);
        _observer = observer;
    }

    /// <summary>Protocol messages that fit no open request.</summary>
    public long Unmatched { get; private set; }

    /// <summary>Requests reported so far.</summary>
    public long Requests { get; private set; }

    /// <summary>Feeds the next delivered message (in delivery order).</summary>
    public void Observe(in Hop hop)
    {
        if (hop.Kind == HopKind.Other || hop.Vcpu < 0)
        {
            if (hop.Kind != HopKind.Other)
            {
                Unmatched++;
            }

            _observer.OnOther(in hop, unmatched: hop.Kind != HopKind.Other);
            return;
        }

        ref TdxRequest? open = ref Slot(hop.Vcpu);
        switch (hop.Kind)
        {
            case HopKind.TdExited:
                Close(ref open);
                open = Start(TdxRequestKind.Exit, in hop);
                open.PendingEntry = true;
                return;

            case HopKind.TdcallRequested:
                if (open is not null && open.Kind == TdxRequestKind.Exit && open.Corr == hop.Corr && open.Idle)
                {
                    open.HopList.Add(hop);
                    open.PendingTdcalls++;
                    return;
                }

                Close(ref open);
                open = Start(TdxRequestKind.Tdcall, in hop);
                open.PendingTdcalls = 1;
                return;

            default:
                if (open is null || open.Corr != hop.Corr || !Accepts(open, hop.Kind))
                {
                    Unmatched++;
                    _observer.OnOther(in hop, unmatched: true);
                    return;
                }

                open.HopList.Add(hop);
                Apply(open, hop.Kind);
                if (open.Kind == TdxRequestKind.Tdcall && open.Idle)
                {
                    Close(ref open);
                }

                return;
        }
    }

    /// <summary>Ends every open request (the stream is over); incomplete ones are reported with <see cref="TdxRequest.IsComplete"/> false.</summary>
    public void Finish()
    {
        for (int i = 0; i < _open.Length; i++)
        {
            Close(ref _open[i]);
        }

        foreach (int vcpu in _sparse.Keys.Order().ToArray())
        {
            Close(ref CollectionsMarshal.GetValueRefOrAddDefault(_sparse, vcpu, out _));
        }
    }

    private static bool Accepts(TdxRequest request, HopKind kind) => kind switch
    {
        HopKind.TdEntered => request.PendingEntry,
        HopKind.TdcallCompleted => request.PendingTdcalls > 0 && request.PendingVmcalls == 0,
        HopKind.TdVmcallRequested => request.PendingTdcalls > 0 && request.PendingVmcalls == 0,
        HopKind.TdVmcallCompleted => request.PendingVmcalls > 0,
        _ => false,
    };

    private static void Apply(TdxRequest request, HopKind kind)
    {
        switch (kind)
        {
            case HopKind.TdEntered:
                request.PendingEntry = false;
                break;
            case HopKind.TdcallCompleted:
                request.PendingTdcalls--;
                break;
            case HopKind.TdVmcallRequested:
                request.PendingVmcalls++;
                break;
            case HopKind.TdVmcallCompleted:
                request.PendingVmcalls--;
                break;
            default:
                break;
        }
    }

    private TdxRequest Start(TdxRequestKind kind, in Hop first)
    {
        TdxRequest request = _pool.Count > 0 ? _pool.Pop() : new TdxRequest();
        request.Kind = kind;
        request.Vcpu = first.Vcpu;
        request.Corr = first.Corr;
        request.HopList.Add(first);
        return request;
    }

    private void Close(ref TdxRequest? open)
    {
        if (open is null)
        {
            return;
        }

        TdxRequest request = open;
        open = null;
        request.IsComplete = request.Idle;
        Requests++;
        try
        {
            _observer.OnRequest(request);
        }
        finally
        {
            request.Reset();
            _pool.Push(request);
        }
    }

    private ref TdxRequest? Slot(int vcpu)
    {
        if (vcpu >= DenseVcpus)
        {
            // Index numbers far beyond any machine's vCPU count (a hand-written log) must not size an array.
            return ref CollectionsMarshal.GetValueRefOrAddDefault(_sparse, vcpu, out _);
        }

        if (vcpu >= _open.Length)
        {
            Array.Resize(ref _open, Math.Max(vcpu + 1, _open.Length * 2));
        }

        return ref _open[vcpu];
    }
}
