using System.Collections.Concurrent;
using TdxSim.Actors.Dispatch;

namespace TdxSim.Actors.TestKit;

/// <summary>
/// Messages received by a test actor, waiting for the test thread. Under the concurrent dispatcher a wait
/// blocks in real time; under an owner-driven deterministic dispatcher the waiting thread runs the simulation
/// instead, and the timeout is virtual time, so waits are instant and reproducible.
/// </summary>
internal sealed class TestMessageQueue(ActorSystem system, TestKitSettings settings)
{
    private readonly ConcurrentQueue<Envelope> _messages = new();
    private readonly SemaphoreSlim _available = new(0);

    public bool IsEmpty => _messages.IsEmpty;

    public int Count => _messages.Count;

    public void Enqueue(Envelope envelope)
    {
        _messages.Enqueue(envelope);
        _available.Release();
    }

    /// <summary>Takes the next message, waiting up to <paramref name="timeout"/>.</summary>
    public bool TryTake(TimeSpan timeout, out Envelope envelope)
    {
        if (timeout < TimeSpan.Zero)
        {
            timeout = TimeSpan.Zero;
        }

        if (PumpingDispatcher(system) is { } deterministic)
        {
            deterministic.RunUntil(() => !_messages.IsEmpty, timeout, settings.MaxDeterministicSteps);
            if (_messages.TryDequeue(out envelope))
            {
                _available.Wait(0);
                return true;
            }

            return false;
        }

        if (_available.Wait(timeout) && _messages.TryDequeue(out envelope))
        {
            return true;
        }

        envelope = default;
        return false;
    }

    /// <summary>Waits up to <paramref name="timeout"/> for a message and returns it without taking it.</summary>
    public bool TryPeek(TimeSpan timeout, out Envelope envelope)
    {
        if (timeout < TimeSpan.Zero)
        {
            timeout = TimeSpan.Zero;
        }

        if (PumpingDispatcher(system) is { } deterministic)
        {
            deterministic.RunUntil(() => !_messages.IsEmpty, timeout, settings.MaxDeterministicSteps);
            return _messages.TryPeek(out envelope);
        }

        if (_available.Wait(timeout))
        {
            // Give the count back: the message stays queued.
            _available.Release();
            return _messages.TryPeek(out envelope);
        }

        envelope = default;
        return false;
    }

    /// <summary>The deterministic dispatcher if the calling thread must drive it, else null.</summary>
    public static DeterministicDispatcher? PumpingDispatcher(ActorSystem system) =>
        system.Deterministic is { IsRunningOnDedicatedThread: false } deterministic ? deterministic : null;
}
