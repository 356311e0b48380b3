namespace TdxSim.Actors.Scheduling;

/// <summary>
/// The time-ordered queue shared by both schedulers: a binary heap keyed by (due time, insertion sequence),
/// so entries due at the same instant fire in the order they were scheduled, which the deterministic
/// dispatcher relies on. Cancelled entries are skipped lazily and purged when they dominate the heap
/// (many Asks answered before their timeout), keeping memory bounded.
/// </summary>
internal sealed class TimerQueue
{
    private const int PurgeThreshold = 1024;
    private readonly object _gate = new();
    private readonly PriorityQueue<TimerEntry, (long Due, long Sequence)> _heap = new();
    private long _sequence;
    private int _cancelled;
    private bool _closed;

    /// <summary>Number of entries in the heap, cancelled ones included.</summary>
    public int Count
    {
        get
        {
            lock (_gate)
            {
                return _heap.Count;
            }
        }
    }

    /// <summary>Adds <paramref name="entry"/>; returns true when it became the earliest entry.</summary>
    public bool Add(TimerEntry entry)
    {
        lock (_gate)
        {
            if (_closed)
            {
                throw new InvalidOperationException("The scheduler has shut down with its actor system; nothing can be scheduled any more.");
            }

            if (_cancelled > PurgeThreshold && _cancelled > _heap.Count / 2)
            {
                Purge();
            }

            entry.Sequence = ++_sequence;
            _heap.Enqueue(entry, (entry.Due, entry.Sequence));
            return _heap.Peek() == entry;
        }
    }

    /// <summary>The due time of the earliest live entry, or null when there is none.</summary>
    public long? PeekDue()
    {
        lock (_gate)
        {
            while (_heap.TryPeek(out TimerEntry? head, out var key))
            {
                if (!head.IsCancellationRequested)
                {
                    return key.Due;
                }

                _heap.Dequeue();
                _cancelled--;
            }

            return null;
        }
    }

    /// <summary>Removes and returns the earliest live entry due at or before <paramref name="now"/>.</summary>
    public bool TryTakeDue(long now, out TimerEntry entry)
    {
        lock (_gate)
        {
            while (_heap.TryPeek(out TimerEntry? head, out var key))
            {
                if (head.IsCancellationRequested)
                {
                    _heap.Dequeue();
                    _cancelled--;
                    continue;
                }

                if (key.Due > now)
                {
                    break;
                }

                entry = _heap.Dequeue();
                return true;
            }

            entry = null!;
            return false;
        }
    }

    /// <summary>
    /// Stops accepting entries and removes the pending ones (the system terminated). Returns the live
    /// callback entries, in due order, so their owners (pending Asks) can be failed rather than left waiting.
    /// </summary>
    public List<TimerEntry> Close()
    {
        var callbacks = new List<TimerEntry>();
        lock (_gate)
        {
            _closed = true;
            while (_heap.TryDequeue(out TimerEntry? entry, out _))
            {
                if (entry.Callback is not null && !entry.IsCancellationRequested)
                {
                    callbacks.Add(entry);
                }
            }

            _cancelled = 0;
        }

        return callbacks;
    }

    internal void OnCancelled()
    {
        lock (_gate)
        {
            _cancelled++;
        }
    }

    private void Purge()
    {
        var live = new List<(TimerEntry, (long, long))>(_heap.Count - _cancelled);
        foreach (var (element, priority) in _heap.UnorderedItems)
        {
            if (!element.IsCancellationRequested)
            {
                live.Add((element, priority));
            }
        }

        _heap.Clear();
        _heap.EnqueueRange(live);
        _cancelled = 0;
    }
}
