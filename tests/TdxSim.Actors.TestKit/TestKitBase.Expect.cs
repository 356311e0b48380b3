namespace TdxSim.Actors.TestKit;

/// <summary>Message expectations.</summary>
public abstract partial class TestKitBase
{
    /// <summary>Receives one message within the timeout and asserts it is a <typeparamref name="T"/>.</summary>
    public T ExpectMsg<T>(TimeSpan? timeout = null) => ExpectMsgCore<T>(null, null, RemainingOrDilated(timeout), null);

    /// <summary>Receives one message and asserts it is a <typeparamref name="T"/> satisfying <paramref name="isMessage"/>.</summary>
    public T ExpectMsg<T>(Predicate<T> isMessage, TimeSpan? timeout = null, string? hint = null)
    {
        ArgumentNullException.ThrowIfNull(isMessage);
        return ExpectMsgCore(isMessage, null, RemainingOrDilated(timeout), hint);
    }

    /// <summary>Receives one message and asserts it equals <paramref name="expected"/>.</summary>
    public T ExpectMsg<T>(T expected, TimeSpan? timeout = null)
    {
        ArgumentNullException.ThrowIfNull(expected);
        return ExpectMsgCore<T>(m => EqualityComparer<T>.Default.Equals(m, expected), null, RemainingOrDilated(timeout), $"equal to {expected}");
    }

    /// <summary>Receives one message and asserts it is a <typeparamref name="T"/> sent by <paramref name="sender"/>.</summary>
    public T ExpectMsgFrom<T>(IActorRef sender, TimeSpan? timeout = null)
    {
        ArgumentNullException.ThrowIfNull(sender);
        return ExpectMsgCore<T>(null, sender, RemainingOrDilated(timeout), null);
    }

    /// <summary>Receives one message and asserts it is a matching <typeparamref name="T"/> sent by <paramref name="sender"/>.</summary>
    public T ExpectMsgFrom<T>(IActorRef sender, Predicate<T> isMessage, TimeSpan? timeout = null, string? hint = null)
    {
        ArgumentNullException.ThrowIfNull(sender);
        ArgumentNullException.ThrowIfNull(isMessage);
        return ExpectMsgCore(isMessage, sender, RemainingOrDilated(timeout), hint);
    }

    /// <summary>Asserts that no message arrives during <paramref name="duration"/> (default: <see cref="TestKitSettings.ExpectNoMessageDefault"/>).</summary>
    public void ExpectNoMsg(TimeSpan? duration = null)
    {
        TimeSpan wait = duration is null ? Dilated(Settings.ExpectNoMessageDefault) : RemainingOrDilated(duration);
        if (TryReceiveOne(wait, out Envelope envelope))
        {
            Fail($"Expected no message during {wait}, but received {Describe(in envelope)}.");
        }
    }

    /// <summary>Receives exactly <paramref name="count"/> messages within the timeout (for all of them) and returns them in order.</summary>
    public IReadOnlyList<object> ReceiveN(int count, TimeSpan? timeout = null)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        TimeSpan max = RemainingOrDilated(timeout);
        long deadline = NowNanoseconds + Scheduling.TimeUnits.ToNanoseconds(max);
        var received = new List<object>(count);
        while (received.Count < count)
        {
            TimeSpan left = Scheduling.TimeUnits.FromNanoseconds(Math.Max(0, deadline - NowNanoseconds));
            if (!TryReceiveOne(left, out Envelope envelope))
            {
                Fail($"Timeout ({max}) while waiting for {count} messages: received only {received.Count}.");
            }

            received.Add(envelope.Message);
        }

        return received;
    }

    /// <summary>Receives as many messages as <paramref name="expected"/> has and asserts they equal them in any order.</summary>
    public IReadOnlyList<object> ExpectMsgAllOf(params object[] expected)
    {
        ArgumentNullException.ThrowIfNull(expected);
        IReadOnlyList<object> received = ReceiveN(expected.Length);
        var missing = new List<object>(expected);
        foreach (object message in received)
        {
            int index = missing.FindIndex(m => Equals(m, message));
            if (index < 0)
            {
                Fail($"ExpectMsgAllOf received unexpected {Describe(message)}; still missing: {string.Join(", ", missing)}.");
            }

            missing.RemoveAt(index);
        }

        return received;
    }

    /// <summary>
    /// Receives messages until one is a <typeparamref name="T"/> satisfying <paramref name="isMessage"/>, which
    /// it returns; everything before it is discarded.
    /// </summary>
    public T FishForMessage<T>(Predicate<T> isMessage, TimeSpan? timeout = null, string? hint = null)
    {
        ArgumentNullException.ThrowIfNull(isMessage);
        TimeSpan max = RemainingOrDilated(timeout);
        long deadline = NowNanoseconds + Scheduling.TimeUnits.ToNanoseconds(max);
        int skipped = 0;
        while (true)
        {
            TimeSpan left = Scheduling.TimeUnits.FromNanoseconds(Math.Max(0, deadline - NowNanoseconds));
            if (!TryReceiveOne(left, out Envelope envelope))
            {
                Fail($"Timeout ({max}) while fishing for a {typeof(T).Name}{HintText(hint)}; {skipped} other message(s) were skipped.");
            }

            if (envelope.Message is T typed && isMessage(typed))
            {
                return typed;
            }

            skipped++;
        }
    }

    /// <summary>
    /// Receives messages while they are <typeparamref name="T"/>s satisfying <paramref name="shouldContinue"/>;
    /// stops at the first other message (left in the queue), after <paramref name="idle"/> without a message,
    /// after <paramref name="max"/> in total, or after <paramref name="maxMessages"/> messages.
    /// </summary>
    public IReadOnlyList<T> ReceiveWhile<T>(Predicate<T> shouldContinue, TimeSpan? max = null, TimeSpan? idle = null, int maxMessages = int.MaxValue)
    {
        ArgumentNullException.ThrowIfNull(shouldContinue);
        TimeSpan total = RemainingOrDilated(max);
        TimeSpan quiet = idle is null ? total : Dilated(idle.Value);
        long deadline = NowNanoseconds + Scheduling.TimeUnits.ToNanoseconds(total);
        var received = new List<T>();
        while (received.Count < maxMessages)
        {
            TimeSpan left = Scheduling.TimeUnits.FromNanoseconds(Math.Max(0, deadline - NowNanoseconds));
            if (!_queue.TryPeek(left < quiet ? left : quiet, out Envelope next)
                || next.Message is not T typed
                || !shouldContinue(typed))
            {
                break;
            }

            TryReceiveOne(TimeSpan.Zero, out _);
            received.Add(typed);
        }

        return received;
    }

    private T ExpectMsgCore<T>(Predicate<T>? isMessage, IActorRef? sender, TimeSpan timeout, string? hint)
    {
        if (!TryReceiveOne(timeout, out Envelope envelope))
        {
            Fail($"Timeout ({timeout}) while waiting for a message of type {typeof(T).Name}{HintText(hint)}.");
        }

        if (envelope.Message is not T typed)
        {
            Fail($"Expected a message of type {typeof(T).Name}{HintText(hint)}, but received {Describe(in envelope)}.");
            return default;
        }

        if (isMessage is not null && !isMessage(typed))
        {
            Fail($"The received {typeof(T).Name} does not match{HintText(hint)}: {Describe(in envelope)}.");
        }

        if (sender is not null && !Equals(envelope.Sender, sender))
        {
            Fail($"Expected a {typeof(T).Name} from {sender.Path}, but it came from {envelope.Sender?.Path.ToString() ?? "no sender"}.");
        }

        return typed;
    }

    private static string HintText(string? hint) => string.IsNullOrEmpty(hint) ? string.Empty : $" ({hint})";
}
