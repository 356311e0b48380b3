using System.Runtime.InteropServices;

namespace TdxSim.Machine.Logging.Pairing;

/// <summary>What started a guest-visible request.</summary>
public enum TdxRequestKind
{
    /// <summary>A TD exit (<c>TdExited</c>): a #VE the guest kernel handles, or an event the module emulates or turns into a fault.</summary>
    Exit,

    /// <summary>A TDCALL executed by guest code (the paravirt path).</summary>
    Tdcall,
}

/// <summary>
/// One guest-visible request on one vCPU: every protocol message with the same vCPU and correlation id, from the
/// vCPU's first message to the module until the vCPU resumes guest code. For a #VE that is the <c>TdExited</c>,
/// the <c>TdEntered</c> that injects #VE, and every TDCALL the guest kernel's #VE handler then makes (with their
/// TDVMCALLs to the VMM); for a paravirt TDCALL it is the <c>TdcallRequested</c>, any TDVMCALL, and the
/// <c>TdcallCompleted</c>.
/// </summary>
/// <remarks>Instances are pooled by <see cref="RequestPairer"/>: use one only inside the callback that receives it.</remarks>
public sealed class TdxRequest
{
    internal List<Hop> HopList { get; } = [];

    internal int PendingTdcalls { get; set; }

    internal int PendingVmcalls { get; set; }

    internal bool PendingEntry { get; set; }

    /// <summary>What started the request.</summary>
    public TdxRequestKind Kind { get; internal set; }

    /// <summary>The vCPU.</summary>
    public int Vcpu { get; internal set; }

    /// <summary>The correlation id every hop shares.</summary>
    public long Corr { get; internal set; }

    /// <summary>True when every request in it got its reply (false when the log or run ended mid-request).</summary>
    public bool IsComplete { get; internal set; }

    /// <summary>The hops in delivery order; the first is a <c>TdExited</c> or a <c>TdcallRequested</c>.</summary>
    public ReadOnlySpan<Hop> Hops => CollectionsMarshal.AsSpan(HopList);

    /// <summary>Delivery time of the first hop (to the TDX module).</summary>
    public long StartNs => HopList[0].DeliveredNs;

    /// <summary>Index of the last hop delivered to the vCPU, or -1.</summary>
    public int LastVcpuHopIndex
    {
        get
        {
            ReadOnlySpan<Hop> hops = Hops;
            for (int i = hops.Length - 1; i >= 0; i--)
            {
                if (hops[i].Target == HopTarget.Vcpu)
                {
                    return i;
                }
            }

            return -1;
        }
    }

    internal bool Idle => PendingTdcalls == 0 && PendingVmcalls == 0 && !PendingEntry;

    internal void Reset()
    {
        HopList.Clear();
        PendingTdcalls = 0;
        PendingVmcalls = 0;
        PendingEntry = false;
        IsComplete = false;
    }
}

/// <summary>Receives what <see cref="RequestPairer"/> finds.</summary>
public interface IRequestObserver
{
    /// <summary>A request ended (the vCPU moved on, or the stream ended). Do not keep <paramref name="request"/> after returning.</summary>
    void OnRequest(TdxRequest request);

    /// <summary>
    /// A message that is not part of any request: a non-protocol message (<paramref name="unmatched"/> false), or a
    /// protocol message that fits no open request, e.g. a reply whose request happened before the log began
    /// (<paramref name="unmatched"/> true).
    /// </summary>
    void OnOther(in Hop hop, bool unmatched);
}
