using Akka.Actor;

namespace TdxSim.Guest;

/// <summary>
/// The TD's common time base across its vCPUs. Each vCPU's TSC advances with the instructions it retires; time also
/// passes while a vCPU is halted, so: a vCPU that wakes moves its TSC up to the latest TSC a running vCPU has
/// published; when every vCPU is halted, time jumps to the earliest armed APIC-timer deadline (the idle TD skips
/// ahead, as a discrete-event simulator does); and a running vCPU whose TSC passes a halted vCPU's deadline wakes
/// it. Shared by the vCPU actors of one TD; thread-safe.
/// </summary>
public sealed class GuestTimebase
{
    private readonly object _lock = new();
    private readonly IActorRef?[] _actors;
    private readonly bool[] _halted;
    private readonly ulong[] _deadline;
    private readonly long[] _published;
    private long _earliest = long.MaxValue;
    private long _epoch;

    /// <summary>Creates the time base of <paramref name="vcpus"/> vCPUs.</summary>
    public GuestTimebase(int vcpus)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(vcpus, 1);
        _actors = new IActorRef?[vcpus];
        _halted = new bool[vcpus];
        _deadline = new ulong[vcpus];
        _published = new long[vcpus];
    }

    /// <summary>Number of vCPUs.</summary>
    public int VcpuCount => _halted.Length;

    /// <summary>Records the actor of vCPU <paramref name="vcpu"/>.</summary>
    public void Register(int vcpu, IActorRef actor)
    {
        lock (_lock)
        {
            _actors[vcpu] = actor;
        }
    }

    /// <summary>Publishes a running vCPU's TSC.</summary>
    public void Publish(int vcpu, ulong tsc) => Volatile.Write(ref _published[vcpu], (long)Math.Min(tsc, long.MaxValue));

    /// <summary>The latest TSC published by a vCPU that is not halted (other than <paramref name="except"/>), or 0.</summary>
    public ulong LatestRunning(int except)
    {
        ulong max = 0;
        lock (_lock)
        {
            for (int i = 0; i < _published.Length; i++)
            {
                if (i != except && !_halted[i])
                {
                    max = Math.Max(max, (ulong)Volatile.Read(ref _published[i]));
                }
            }
        }

        return max;
    }

    /// <summary>
    /// vCPU <paramref name="vcpu"/> halted with interrupts enabled and its timer at <paramref name="deadline"/>
    /// (0: none). Returns the time base's epoch when that leaves every vCPU halted, else null. The caller lets
    /// in-flight wake-ups land (an IPI posted just before the sender halted) and then asks
    /// <see cref="PickIfStillIdle"/>.
    /// </summary>
    public long? EnterHalt(int vcpu, ulong deadline)
    {
        lock (_lock)
        {
            _halted[vcpu] = true;
            _deadline[vcpu] = deadline;
            _epoch++;
            Recompute();
            return Array.IndexOf(_halted, false) < 0 ? _epoch : null;
        }
    }

    /// <summary>
    /// When nothing halted or woke since <paramref name="epoch"/> and every vCPU is still halted: the vCPU with the
    /// earliest deadline (taken out of the table) and that deadline, which must fire now (time jumps to it). Else null.
    /// </summary>
    public (int Vcpu, ulong Deadline, IActorRef? Actor)? PickIfStillIdle(long epoch)
    {
        lock (_lock)
        {
            return epoch == _epoch ? AllHaltedPick() : null;
        }
    }

    /// <summary>A halted vCPU's timer changed (re-armed or disarmed while it is halted): as <see cref="EnterHalt"/>.</summary>
    public long? UpdateHalted(int vcpu, ulong deadline)
    {
        lock (_lock)
        {
            if (!_halted[vcpu])
            {
                return null;
            }

            _deadline[vcpu] = deadline;
            _epoch++;
            Recompute();
            return Array.IndexOf(_halted, false) < 0 ? _epoch : null;
        }
    }

    /// <summary>vCPU <paramref name="vcpu"/> runs again.</summary>
    public void LeaveHalt(int vcpu)
    {
        lock (_lock)
        {
            _halted[vcpu] = false;
            _deadline[vcpu] = 0;
            _epoch++;
            Recompute();
        }
    }

    /// <summary>The halted vCPUs whose deadline is at or before <paramref name="tsc"/> (taken out of the table).</summary>
    public List<(int Vcpu, IActorRef Actor)>? TakeDue(ulong tsc)
    {
        if ((ulong)Volatile.Read(ref _earliest) > tsc)
        {
            return null;
        }

        List<(int, IActorRef)>? due = null;
        lock (_lock)
        {
            for (int i = 0; i < _deadline.Length; i++)
            {
                if (_halted[i] && _deadline[i] != 0 && _deadline[i] <= tsc && _actors[i] is { } a)
                {
                    _deadline[i] = 0;
                    (due ??= []).Add((i, a));
                }
            }

            Recompute();
        }

        return due;
    }

    private (int, ulong, IActorRef?)? AllHaltedPick()
    {
        int best = -1;
        for (int i = 0; i < _halted.Length; i++)
        {
            if (!_halted[i])
            {
                return null;
            }

            if (_deadline[i] != 0 && (best < 0 || _deadline[i] < _deadline[best]))
            {
                best = i;
            }
        }

        if (best < 0)
        {
            return null;
        }

        ulong d = _deadline[best];
        _deadline[best] = 0;
        Recompute();
        return (best, d, _actors[best]);
    }

    private void Recompute()
    {
        ulong e = ulong.MaxValue;
        for (int i = 0; i < _deadline.Length; i++)
        {
            if (_halted[i] && _deadline[i] != 0)
            {
                e = Math.Min(e, _deadline[i]);
            }
        }

        Volatile.Write(ref _earliest, (long)Math.Min(e, long.MaxValue));
    }
}

/// <summary>vCPU to itself: every vCPU halted at time-base epoch <paramref name="Epoch"/>; jump ahead if still so.</summary>
public sealed record IdleCheck(int Vcpu, long Epoch) : TdxSim.Abi.Messages.ITdxMessage;

/// <summary>vCPU to vCPU: the time base reached the halted receiver's APIC-timer deadline at guest TSC <paramref name="Tsc"/>.</summary>
public sealed record TimebaseWake(int Vcpu, ulong Tsc) : TdxSim.Abi.Messages.ITdxMessage;
