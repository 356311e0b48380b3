using System.Globalization;

namespace TdxSim.Actors.Internal;

/// <summary>Children registry: creation, lookup, stopping. Guarded by <see cref="_childrenGate"/>.</summary>
internal sealed partial class ActorCell
{
    private readonly object _childrenGate = new();
    private readonly Dictionary<string, ChildRecord> _children = new(StringComparer.Ordinal);
    private long _nextGeneratedName;
    private bool _refusesChildren;

    public IActorRef ActorOf(Props props, string? name = null)
    {
        ArgumentNullException.ThrowIfNull(props);
        if (name is not null)
        {
            ActorPath.ValidateName(name);
        }

        ActorCell child;
        lock (_childrenGate)
        {
            if (_refusesChildren)
            {
                throw new InvalidOperationException(_parent is null
                    ? $"Actor system '{_system.Name}' is terminating or terminated; no new actors can be created."
                    : $"{_path} is stopping; it cannot create child '{name}'.");
            }

            // '$' is reserved for generated names, so they never collide with user-chosen ones.
            name ??= "$" + (++_nextGeneratedName).ToString(CultureInfo.InvariantCulture);
            if (_children.ContainsKey(name))
            {
                throw new InvalidActorNameException(
                    $"Actor name '{name}' is not unique: {_path} already has a child with that name (a name stays taken until its previous owner has fully stopped).");
            }

            child = new ActorCell(_system, props, this, _path.ChildUnchecked(name), _mailbox.Dispatcher);
            _children.Add(name, new ChildRecord(child.SelfRef));
        }

        child.SelfRef.SendSystemMessage(Create.Instance);
        return child.Self;
    }

    public IActorRef? Child(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        lock (_childrenGate)
        {
            return _children.TryGetValue(name, out ChildRecord? record) && !record.Stopping ? record.Ref : null;
        }
    }

    public IReadOnlyList<IActorRef> GetChildren()
    {
        lock (_childrenGate)
        {
            var result = new List<IActorRef>(_children.Count);
            foreach (ChildRecord record in _children.Values)
            {
                if (!record.Stopping)
                {
                    result.Add(record.Ref);
                }
            }

            return result;
        }
    }

    public void Stop(IActorRef actor)
    {
        ArgumentNullException.ThrowIfNull(actor);
        if (actor is not LocalActorRef local)
        {
            return;
        }

        if (local.Cell._parent == this)
        {
            lock (_childrenGate)
            {
                if (_children.TryGetValue(local.Name, out ChildRecord? record) && record.Ref == local)
                {
                    record.Stopping = true;
                }
            }
        }

        local.SendSystemMessage(Terminate.Instance);
    }

    private bool IsChild(LocalActorRef child, out ChildRecord record)
    {
        lock (_childrenGate)
        {
            if (_children.TryGetValue(child.Name, out ChildRecord? found) && found.Ref == child)
            {
                record = found;
                return true;
            }
        }

        record = null!;
        return false;
    }

    /// <summary>Removes a stopped child; returns (children left, children still stopping).</summary>
    private (int Remaining, int Stopping) RemoveChild(LocalActorRef child)
    {
        lock (_childrenGate)
        {
            if (_children.TryGetValue(child.Name, out ChildRecord? record) && record.Ref == child)
            {
                _children.Remove(child.Name);
            }

            int stopping = 0;
            foreach (ChildRecord r in _children.Values)
            {
                if (r.Stopping)
                {
                    stopping++;
                }
            }

            return (_children.Count, stopping);
        }
    }

    /// <summary>Marks every child stopping and returns them (for termination).</summary>
    private List<LocalActorRef> StopAllChildrenAndRefuseNew()
    {
        lock (_childrenGate)
        {
            _refusesChildren = true;
            var all = new List<LocalActorRef>(_children.Count);
            foreach (ChildRecord record in _children.Values)
            {
                record.Stopping = true;
                all.Add(record.Ref);
            }

            return all;
        }
    }

    private List<LocalActorRef> LiveChildren()
    {
        lock (_childrenGate)
        {
            var live = new List<LocalActorRef>(_children.Count);
            foreach (ChildRecord record in _children.Values)
            {
                if (!record.Stopping)
                {
                    live.Add(record.Ref);
                }
            }

            return live;
        }
    }

    private sealed class ChildRecord(LocalActorRef reference)
    {
        public LocalActorRef Ref { get; } = reference;

        public bool Stopping { get; set; }
    }
}
