using TdxSim.Actors.Dispatch;
using TdxSim.Actors.Mailboxes;

namespace TdxSim.Actors.Internal;

/// <summary>
/// The runtime side of one actor: its instance, behaviour stack, children, watchers, supervision state and
/// mailbox. Everything here runs on the actor's turn (one thread at a time, ordered by the mailbox), except
/// the children registry, which <c>ActorSystem.ActorOf</c> may touch from any thread under a lock.
/// </summary>
internal sealed partial class ActorCell : IActorContext
{
    [ThreadStatic]
    private static ActorCell? _threadCurrent;

    [ThreadStatic]
    private static ActorCell? _threadConstructing;

    private readonly ActorSystem _system;
    private readonly Props _props;
    private readonly ActorCell? _parent;
    private readonly ActorPath _path;
    private readonly LocalActorRef _self;
    private readonly Mailbox _mailbox;
    private ActorBase? _actor;
    private Receive? _behavior;
    private List<Receive>? _behaviorStack;
    private Envelope _current;
    private volatile bool _terminated;

    public ActorCell(ActorSystem system, Props props, ActorCell? parent, ActorPath path, MessageDispatcher dispatcher)
    {
        _system = system;
        _props = props;
        _parent = parent;
        _path = path;
        _mailbox = new Mailbox(this, dispatcher, props.Mailbox, system.Options.Throughput);
        _self = new LocalActorRef(this, _mailbox);
    }

    /// <summary>The actor whose handler or hook runs on this thread right now, if any.</summary>
    public static ActorCell? Current => _threadCurrent;

    /// <summary>Correlation id of the message being handled on this thread, or 0.</summary>
    public static long CurrentCorrelationId => _threadCurrent?._current.CorrelationId ?? 0;

    /// <summary>The cell whose Props factory runs on this thread (read once by <see cref="ActorBase"/>'s constructor).</summary>
    public static ActorCell? Constructing
    {
        get => _threadConstructing;
        set => _threadConstructing = value;
    }

    /// <summary>Sender for the one-argument Tell: the actor running on this thread, or none.</summary>
    public static IActorRef? CurrentSelfOrNoSender => _threadCurrent?._self;

    public ActorSystem System => _system;

    public ActorPath Path => _path;

    public LocalActorRef SelfRef => _self;

    public IActorRef Self => _self;

    public Mailbox Mailbox => _mailbox;

    public bool IsTerminated => _terminated;

    public IActorRef Sender => _current.Sender ?? _system.DeadLetters;

    public IActorRef Parent => (IActorRef?)_parent?._self ?? _system.DeadLetters;

    public long CorrelationId => _current.CorrelationId;

    public Envelope CurrentEnvelope => _current;

    /// <summary>Restart bookkeeping, owned by the parent.</summary>
    public Supervision.RestartStatistics RestartStatistics { get; } = new();

    /// <summary>
    /// The correlation id for a message sent now: inherited from the message being handled on this thread,
    /// else fresh from <paramref name="system"/>.
    /// </summary>
    public static long CorrelationIdForSend(ActorSystem system)
    {
        ActorCell? current = _threadCurrent;
        if (current is not null)
        {
            long id = current._current.CorrelationId;
            if (id != 0)
            {
                return id;
            }
        }

        return system.NewCorrelationId();
    }

    public long NewCorrelationId() => _system.NewCorrelationId();

    /// <summary>Delivers one user message to the current behaviour. Handler exceptions go to supervision.</summary>
    public void Invoke(in Envelope envelope)
    {
        ActorCell? previous = _threadCurrent;
        _threadCurrent = this;
        _current = envelope;
        try
        {
            _system.Observers?.Delivered(in envelope, _self);
            object message = envelope.Message;
            // Three method-table compares (the types are sealed): cheaper than an interface check on every message.
            if (message is PoisonPill or Kill or Terminated)
            {
                ReceiveAutoMessage(message);
            }
            else if (!_behavior!(message))
            {
                _actor!.InvokeUnhandled(message);
            }
        }
        catch (Exception exception)
        {
            HandleInvokeFailure(exception, envelope.Message, publish: true);
        }
        finally
        {
            _current = default;
            _threadCurrent = previous;
        }
    }

    public void Become(Receive receive)
    {
        ArgumentNullException.ThrowIfNull(receive);
        List<Receive> stack = BehaviorStack();
        if (stack.Count > 1)
        {
            stack[^1] = receive;
        }
        else
        {
            stack.Add(receive);
        }

        _behavior = receive;
    }

    public void BecomeStacked(Receive receive)
    {
        ArgumentNullException.ThrowIfNull(receive);
        BehaviorStack().Add(receive);
        _behavior = receive;
    }

    public void UnbecomeStacked()
    {
        List<Receive> stack = BehaviorStack();
        if (stack.Count > 1)
        {
            stack.RemoveAt(stack.Count - 1);
        }

        _behavior = stack[^1];
    }

    public void PublishUnhandled(object message) => _system.Unhandled(message, _current.Sender, _self);

    /// <inheritdoc />
    public override string ToString() => $"ActorCell({_path})";

    private List<Receive> BehaviorStack() => _behaviorStack ?? throw new InvalidOperationException(
        $"{_path} has no behaviour yet: Become may be called from handlers and hooks, not from the constructor of a ReceiveActor (register handlers there).");

    private void ReceiveAutoMessage(object message)
    {
        switch (message)
        {
            case PoisonPill:
                Stop(_self);
                break;
            case Kill:
                throw new ActorKilledException($"{_path} received Kill.");
            case Terminated terminated when terminated.Watcher == this:
                // Delivered only while still watching: Unwatch guarantees no Terminated afterwards.
                if (_watching is not null && _watching.Remove((InternalActorRef)terminated.ActorRef) && !_behavior!(terminated))
                {
                    _actor!.InvokeUnhandled(terminated);
                }

                break;
            default:
                // A Terminated sent on by user code is an ordinary message.
                if (!_behavior!(message))
                {
                    _actor!.InvokeUnhandled(message);
                }

                break;
        }
    }

    /// <summary>Runs a lifecycle hook with this actor as the ambient current actor (for one-argument Tell).</summary>
    private void RunHook<TState>(Action<ActorBase, TState> hook, ActorBase actor, TState state)
    {
        ActorCell? previous = _threadCurrent;
        _threadCurrent = this;
        try
        {
            hook(actor, state);
        }
        finally
        {
            _threadCurrent = previous;
        }
    }
}
