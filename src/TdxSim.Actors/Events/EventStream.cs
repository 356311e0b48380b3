namespace TdxSim.Actors.Events;

/// <summary>
/// The system's publish/subscribe bus for runtime events (<see cref="DeadLetter"/>, <see cref="Dropped"/>,
/// <see cref="UnhandledMessage"/>, <see cref="ActorFailure"/>) and anything else published on it.
/// A subscription to a type receives every event assignable to it (subscribe to <see cref="AllDeadLetters"/>
/// for all undelivered messages, or to <see cref="object"/> for everything).
/// </summary>
/// <remarks>
/// Subscriptions are a copy-on-write array: publishing takes no lock and allocates nothing beyond what the
/// subscribers do. Actor subscribers receive events as ordinary messages without sender; a stopped actor is
/// unsubscribed automatically. Delegate subscribers run synchronously on the publishing thread (often an
/// actor's thread), so they must be quick and thread-safe.
/// </remarks>
public sealed class EventStream
{
    private readonly object _gate = new();
    private Subscription[] _subscriptions = [];

    /// <summary>True when at least one subscription exists; lets publishers skip building events nobody reads.</summary>
    public bool HasSubscribers => Volatile.Read(ref _subscriptions).Length != 0;

    /// <summary>Subscribes <paramref name="subscriber"/> to events assignable to <paramref name="channel"/>.</summary>
    /// <returns><see langword="false"/> if it was already subscribed to that exact channel.</returns>
    public bool Subscribe(IActorRef subscriber, Type channel)
    {
        ArgumentNullException.ThrowIfNull(subscriber);
        ArgumentNullException.ThrowIfNull(channel);
        lock (_gate)
        {
            foreach (Subscription s in _subscriptions)
            {
                if (ReferenceEquals(s.Actor, subscriber) && s.Channel == channel)
                {
                    return false;
                }
            }

            Add(new Subscription(channel, subscriber, null));
            return true;
        }
    }

    /// <summary>
    /// Subscribes a delegate to events of type <typeparamref name="T"/>; dispose the result to unsubscribe.
    /// Meant for tests and diagnostics.
    /// </summary>
    public IDisposable Subscribe<T>(Action<T> handler)
    {
        ArgumentNullException.ThrowIfNull(handler);
        var subscription = new Subscription(typeof(T), null, e => handler((T)e));
        lock (_gate)
        {
            Add(subscription);
        }

        return new Unsubscriber(this, subscription);
    }

    /// <summary>Removes the subscription of <paramref name="subscriber"/> to exactly <paramref name="channel"/>.</summary>
    public bool Unsubscribe(IActorRef subscriber, Type channel)
    {
        ArgumentNullException.ThrowIfNull(subscriber);
        ArgumentNullException.ThrowIfNull(channel);
        return RemoveWhere(s => ReferenceEquals(s.Actor, subscriber) && s.Channel == channel);
    }

    /// <summary>Removes every subscription of <paramref name="subscriber"/>.</summary>
    public bool Unsubscribe(IActorRef subscriber)
    {
        ArgumentNullException.ThrowIfNull(subscriber);
        return RemoveWhere(s => ReferenceEquals(s.Actor, subscriber));
    }

    /// <summary>Delivers <paramref name="event"/> to every subscription whose channel it is assignable to.</summary>
    public void Publish(object @event)
    {
        ArgumentNullException.ThrowIfNull(@event);
        Subscription[] subscriptions = Volatile.Read(ref _subscriptions);
        if (subscriptions.Length == 0)
        {
            return;
        }

        Type type = @event.GetType();
        foreach (Subscription s in subscriptions)
        {
            if (!s.Channel.IsAssignableFrom(type))
            {
                continue;
            }

            if (s.Actor is not null)
            {
                s.Actor.Tell(@event, ActorRefs.NoSender);
            }
            else
            {
                s.Handler!(@event);
            }
        }
    }

    /// <summary>Drops subscriptions of a stopped actor without the array copy when it had none.</summary>
    internal void UnsubscribeTerminated(IActorRef actor)
    {
        Subscription[] subscriptions = Volatile.Read(ref _subscriptions);
        foreach (Subscription s in subscriptions)
        {
            if (ReferenceEquals(s.Actor, actor))
            {
                Unsubscribe(actor);
                return;
            }
        }
    }

    private void Add(Subscription subscription)
    {
        var next = new Subscription[_subscriptions.Length + 1];
        _subscriptions.CopyTo(next, 0);
        next[^1] = subscription;
        Volatile.Write(ref _subscriptions, next);
    }

    private bool RemoveWhere(Func<Subscription, bool> match)
    {
        lock (_gate)
        {
            Subscription[] current = _subscriptions;
            var kept = new List<Subscription>(current.Length);
            foreach (Subscription s in current)
            {
                if (!match(s))
                {
                    kept.Add(s);
                }
            }

            if (kept.Count == current.Length)
            {
                return false;
            }

            Volatile.Write(ref _subscriptions, kept.ToArray());
            return true;
        }
    }

    private sealed record Subscription(Type Channel, IActorRef? Actor, Action<object>? Handler);

    private sealed class Unsubscriber(EventStream stream, Subscription subscription) : IDisposable
    {
        public void Dispose() => stream.RemoveWhere(s => ReferenceEquals(s, subscription));
    }
}
