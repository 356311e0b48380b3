using Akka.Actor;
using TdxSim.Memory;

namespace TdxSim.Guest.Spin;

/// <summary>
/// The vCPUs of one TD parked in a spin loop, by the pages their loop reads (deterministic runs only). A vCPU whose
/// pause-loop slices repeat exactly, against memory that does not change, would repeat them until some other agent
/// writes one of those pages: it parks instead, and the first change of a watched page
/// (<see cref="GuestPhysicalMemory.WatchedPageWritten"/>: another vCPU's store, the VMM's or the module's write) sends
/// it <see cref="SpinWatchFired"/>. The deterministic dispatcher runs one handler at a time, so the watch is raised on
/// that thread; the lock only guards against a misuse from elsewhere.
/// </summary>
public sealed class SpinWatchers
{
    private readonly GuestPhysicalMemory _memory;
    private readonly Lock _lock = new();
    private readonly Dictionary<ulong, List<(IActorRef Vcpu, int Generation)>> _byPage = [];

    /// <summary>Watches for the TD whose memory is <paramref name="memory"/>.</summary>
    public SpinWatchers(GuestPhysicalMemory memory)
    {
        ArgumentNullException.ThrowIfNull(memory);
        _memory = memory;
        memory.WatchedPageWritten += OnWritten;
    }

    /// <summary>Parks vCPU <paramref name="vcpu"/> (park number <paramref name="generation"/>) until one of
    /// <paramref name="pages"/> changes.</summary>
    public void Park(IActorRef vcpu, int generation, ReadOnlySpan<ulong> pages)
    {
        lock (_lock)
        {
            foreach (ulong page in pages)
            {
                if (!_byPage.TryGetValue(page, out var list))
                {
                    _byPage[page] = list = [];
                }

                list.Add((vcpu, generation));
                _memory.Watch(page);
            }
        }
    }

    /// <summary>Forgets a park that ended another way (a message reached the vCPU, its horizon passed).</summary>
    public void Forget(IActorRef vcpu, ReadOnlySpan<ulong> pages)
    {
        lock (_lock)
        {
            foreach (ulong page in pages)
            {
                if (_byPage.TryGetValue(page, out var list))
                {
                    list.RemoveAll(e => e.Vcpu.Equals(vcpu));
                    if (list.Count == 0)
                    {
                        _byPage.Remove(page);
                    }
                }
            }
        }
    }

    private void OnWritten(ulong page)
    {
        List<(IActorRef Vcpu, int Generation)>? woken;
        lock (_lock)
        {
            if (!_byPage.Remove(page, out woken))
            {
                return;
            }
        }

        // Sent from the writer's handling, as the writer: the message log shows which write woke which vCPU, under
        // the writer's correlation.
        IActorRef? writer = ActorCell.GetCurrentSelfOrNoSender();
        foreach ((IActorRef vcpu, int generation) in woken)
        {
            vcpu.Tell(new SpinWatchFired(page, generation), writer!);
        }
    }
}

/// <summary>A page a parked vCPU's spin loop reads has changed: the vCPU runs again.</summary>
/// <param name="Page">The guest-physical page number.</param>
/// <param name="Generation">Which park of the vCPU it ends (a later park ignores it).</param>
public sealed record SpinWatchFired(ulong Page, int Generation);

/// <summary>A parked vCPU's horizon passed without a change: it runs again (and may park again).</summary>
/// <param name="Generation">Which park it ends.</param>
public sealed record SpinHorizon(int Generation);
