using TdxSim.Actors.Internal;

namespace TdxSim.Actors;

/// <summary>
/// An actor defined by typed handlers registered in its constructor (Akka's <c>ReceiveActor</c>):
/// <code>
/// public sealed class Echo : ReceiveActor
/// {
///     public Echo() => Receive&lt;Ping&gt;(p =&gt; Sender.Tell(new Pong(p.Id)));
/// }
/// </code>
/// Handlers are tried in registration order; the first whose type (and predicate) matches handles the
/// message. Dispatch is a chain of type checks: no reflection per message.
/// </summary>
public abstract class ReceiveActor : ActorBase
{
    private readonly HandlerList _initial = new();
    private HandlerList? _building;

    /// <summary>Starts collecting the initial behaviour's handlers.</summary>
    protected ReceiveActor()
    {
        _building = _initial;
    }

    /// <summary>Handles messages of type <typeparamref name="T"/>.</summary>
    protected void Receive<T>(Action<T> handler)
    {
        ArgumentNullException.ThrowIfNull(handler);
        Building().Add(new TypedHandler<T>(null, handler));
    }

    /// <summary>Handles messages of type <typeparamref name="T"/> for which <paramref name="shouldHandle"/> holds.</summary>
    protected void Receive<T>(Predicate<T> shouldHandle, Action<T> handler)
    {
        ArgumentNullException.ThrowIfNull(shouldHandle);
        ArgumentNullException.ThrowIfNull(handler);
        Building().Add(new TypedHandler<T>(shouldHandle, handler));
    }

    /// <summary>Handles any message not matched by an earlier handler.</summary>
    protected void ReceiveAny(Action<object> handler)
    {
        ArgumentNullException.ThrowIfNull(handler);
        Building().Add(new TypedHandler<object>(null, handler));
    }

    /// <summary>
    /// Replaces the behaviour with the handlers registered by <paramref name="configure"/>, e.g.
    /// <c>Become(() =&gt; Receive&lt;Resume&gt;(_ =&gt; Become(Running)))</c>.
    /// </summary>
    protected void Become(Action configure) => Context.Become(Build(configure));

    /// <summary>Pushes the behaviour built by <paramref name="configure"/>; <see cref="UnbecomeStacked"/> pops it.</summary>
    protected void BecomeStacked(Action configure) => Context.BecomeStacked(Build(configure));

    /// <summary>Returns to the behaviour in effect before the last <see cref="BecomeStacked"/>.</summary>
    protected void UnbecomeStacked() => Context.UnbecomeStacked();

    /// <inheritdoc />
    protected sealed override bool Receive(object message) => _initial.TryHandle(message);

    private protected override void OnConstructed() => _building = null;

    private Receive Build(Action configure)
    {
        ArgumentNullException.ThrowIfNull(configure);
        HandlerList? outer = _building;
        var list = new HandlerList();
        _building = list;
        try
        {
            configure();
        }
        finally
        {
            _building = outer;
        }

        return list.TryHandle;
    }

    private HandlerList Building() => _building ?? throw new InvalidOperationException(
        "Receive<T> and ReceiveAny may only be called in the actor's constructor or inside Become(() => ...)/BecomeStacked(() => ...).");
}
