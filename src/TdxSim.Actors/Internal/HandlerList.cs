namespace TdxSim.Actors.Internal;

/// <summary>One handler of a <see cref="ReceiveActor"/> behaviour.</summary>
internal abstract class MessageHandler
{
    public abstract bool TryHandle(object message);
}

/// <summary>A typed handler with an optional predicate: a type test, a predicate call and the action.</summary>
internal sealed class TypedHandler<T>(Predicate<T>? predicate, Action<T> action) : MessageHandler
{
    public override bool TryHandle(object message)
    {
        if (message is T typed && (predicate is null || predicate(typed)))
        {
            action(typed);
            return true;
        }

        return false;
    }
}

/// <summary>The ordered handlers of one behaviour.</summary>
internal sealed class HandlerList
{
    private MessageHandler[] _handlers = [];

    public void Add(MessageHandler handler)
    {
        var next = new MessageHandler[_handlers.Length + 1];
        _handlers.CopyTo(next, 0);
        next[^1] = handler;
        _handlers = next;
    }

    public bool TryHandle(object message)
    {
        foreach (MessageHandler handler in _handlers)
        {
            if (handler.TryHandle(message))
            {
                return true;
            }
        }

        return false;
    }
}
