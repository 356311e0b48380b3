using TdxSim.Abi.Messages;
using TdxSim.Devices;

namespace TdxSim.Vmm;

/// <summary>
/// The <see cref="IMachineEvents"/> the VMM gives to devices. Devices do not know which vCPU is accessing them, so
/// <see cref="VmmCore"/> opens a scope on the calling thread around every bus access; an event raised during it
/// becomes a message attributed to that vCPU (<see cref="GuestStopRequested"/>, <see cref="SelftestReported"/>,
/// <see cref="PostCodeWritten"/>) and travels back in the <see cref="VmcallOutcome"/>. Bus accesses are synchronous,
/// so a thread-local scope is exact even with one VMM actor per vCPU running in parallel.
/// </summary>
public sealed class DeviceEventCollector : IMachineEvents
{
    [ThreadStatic]
    private static ScopeState? _scope;

    /// <inheritdoc/>
    void IMachineEvents.StopRequested(GuestStopKind kind, ulong value, string detail)
    {
        ScopeState s = Current();
        s.Add(new GuestStopRequested(s.Vcpu, kind, value, detail));
    }

    /// <inheritdoc/>
    void IMachineEvents.Reported(ulong value)
    {
        ScopeState s = Current();
        s.Add(new SelftestReported(s.Vcpu, value));
    }

    /// <inheritdoc/>
    void IMachineEvents.PostCode(byte code)
    {
        ScopeState s = Current();
        s.Add(new PostCodeWritten(s.Vcpu, code));
    }

    /// <summary>Starts attributing device events on this thread to <paramref name="vcpu"/>.</summary>
    internal void Begin(int vcpu)
    {
        ScopeState s = _scope ??= new ScopeState();
        if (s.Owner is not null)
        {
            throw new InvalidOperationException($"a device access for vCPU {s.Vcpu} is already in progress on this thread");
        }

        s.Owner = this;
        s.Vcpu = vcpu;
        s.Events = null;
    }

    /// <summary>Ends the scope and returns the events it collected (a shared empty list when none: no allocation).</summary>
    internal IReadOnlyList<ITdxMessage> End()
    {
        ScopeState s = _scope!;
        IReadOnlyList<ITdxMessage> events = s.Events ?? (IReadOnlyList<ITdxMessage>)[];
        s.Owner = null;
        s.Events = null;
        return events;
    }

    private ScopeState Current()
    {
        ScopeState? s = _scope;
        if (s is null || !ReferenceEquals(s.Owner, this))
        {
            throw new InvalidOperationException(
                "a device raised an event outside a VMM access: only guest accesses through VmmCore may stop the guest or report");
        }

        return s;
    }

    private sealed class ScopeState
    {
        public DeviceEventCollector? Owner;
        public int Vcpu;
        public List<ITdxMessage>? Events;

        public void Add(ITdxMessage message) => (Events ??= []).Add(message);
    }
}
