using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using Xunit.Sdk;

namespace TdxSim.Actors.TestKit;

/// <summary>
/// Expectations on the messages received by a test actor, in the shape of Akka.TestKit: <c>ExpectMsg</c>,
/// <c>ExpectNoMsg</c>, <c>ReceiveN</c>, <c>FishForMessage</c>, <c>Within</c>, <c>AwaitCondition</c>,
/// <c>AwaitAssert</c>, <c>Watch</c>. Shared by <see cref="TestKit"/> and <see cref="TestProbe"/>.
/// </summary>
/// <remarks>
/// Every timeout is dilated by <see cref="TestKitSettings.TimeFactor"/>. Under an owner-driven deterministic
/// dispatcher the waiting thread runs the simulation and timeouts are virtual time: a wait for a message
/// that never comes fails as soon as nothing else can happen, without sleeping.
/// </remarks>
public abstract partial class TestKitBase
{
    private readonly TestMessageQueue _queue;
    private readonly Scheduling.MonotonicClock _realTime = new();
    private long _withinDeadline = long.MaxValue;
    private Envelope _lastEnvelope;
    private int _probeCount;

    private protected TestKitBase(ActorSystem system, TestKitSettings settings, string testActorName)
    {
        ArgumentNullException.ThrowIfNull(system);
        ArgumentNullException.ThrowIfNull(settings);
        if (!(settings.TimeFactor > 0))
        {
            throw new ArgumentOutOfRangeException(nameof(settings), settings.TimeFactor, "TestKitSettings.TimeFactor must be positive.");
        }

        Sys = system;
        Settings = settings;
        _queue = new TestMessageQueue(system, settings);
        TestMessageQueue queue = _queue;
        TestActor = system.ActorOf(Props.Create(() => new TestActor(queue)), testActorName);
    }

    /// <summary>The system under test.</summary>
    public ActorSystem Sys { get; }

    /// <summary>The actor whose received messages the expectations inspect.</summary>
    public IActorRef TestActor { get; }

    /// <summary>Timing settings.</summary>
    public TestKitSettings Settings { get; }

    /// <summary>Envelope of the last message taken from the queue (correlation id and send time included).</summary>
    public Envelope LastEnvelope => _lastEnvelope;

    /// <summary>The last message taken from the queue.</summary>
    public object LastMessage => _lastEnvelope.Message;

    /// <summary>Sender of the last message taken from the queue (dead letters when it had none).</summary>
    public IActorRef LastSender => _lastEnvelope.Sender ?? Sys.DeadLetters;

    /// <summary>Messages received and not yet taken.</summary>
    public int QueuedMessageCount => _queue.Count;

    /// <summary>Scales <paramref name="duration"/> by the time factor.</summary>
    public TimeSpan Dilated(TimeSpan duration) => duration == Timeout.InfiniteTimeSpan
        ? duration
        : TimeSpan.FromTicks((long)(duration.Ticks * Settings.TimeFactor));

    /// <summary>Creates a probe in the same system; <paramref name="name"/> becomes its actor name.</summary>
    public TestProbe CreateTestProbe(string? name = null)
    {
        string actorName = name ?? "testProbe-" + Interlocked.Increment(ref _probeCount).ToString(CultureInfo.InvariantCulture) + "-" + TestActor.Name;
        return new TestProbe(Sys, Settings, actorName);
    }

    /// <summary>Makes the test actor watch <paramref name="actor"/>: expect a <see cref="Terminated"/> when it stops.</summary>
    public IActorRef Watch(IActorRef actor)
    {
        ArgumentNullException.ThrowIfNull(actor);
        TestActor.Tell(new TestActor.WatchCommand(actor), ActorRefs.NoSender);
        return actor;
    }

    /// <summary>Stops watching <paramref name="actor"/>.</summary>
    public IActorRef Unwatch(IActorRef actor)
    {
        ArgumentNullException.ThrowIfNull(actor);
        TestActor.Tell(new TestActor.UnwatchCommand(actor), ActorRefs.NoSender);
        return actor;
    }

    /// <summary>
    /// Waits for <paramref name="task"/> (e.g. an Ask) and returns its result, running a deterministic system
    /// meanwhile. Faults are rethrown unwrapped.
    /// </summary>
    public T AwaitResult<T>(Task<T> task, TimeSpan? timeout = null)
    {
        ArgumentNullException.ThrowIfNull(task);
        TimeSpan max = RemainingOrDilated(timeout);
        bool done = TestMessageQueue.PumpingDispatcher(Sys) is { } deterministic
            ? deterministic.RunUntil(() => task.IsCompleted, max, Settings.MaxDeterministicSteps)
            : ((IAsyncResult)task).AsyncWaitHandle.WaitOne(max);
        if (!done || !task.IsCompleted)
        {
            Fail($"Timeout ({max}) while awaiting a task.");
        }

        return task.GetAwaiter().GetResult();
    }

    /// <summary>The time source for <c>Within</c>: virtual under the deterministic dispatcher, else real.</summary>
    private protected long NowNanoseconds => Sys.Deterministic is not null
        ? Sys.Clock.NowNanoseconds
        : _realTime.NowNanoseconds;

    /// <summary>Time left in the innermost <c>Within</c>, or the dilated default outside one.</summary>
    private protected TimeSpan RemainingOrDefault => _withinDeadline == long.MaxValue
        ? Dilated(Settings.SingleExpectDefault)
        : Remaining;

    private protected TimeSpan Remaining
    {
        get
        {
            long left = _withinDeadline - NowNanoseconds;
            return left <= 0 ? TimeSpan.Zero : Scheduling.TimeUnits.FromNanoseconds(left);
        }
    }

    /// <summary>An explicit timeout is dilated; none means the remaining time of <c>Within</c> or the default.</summary>
    private protected TimeSpan RemainingOrDilated(TimeSpan? timeout)
    {
        if (timeout is not TimeSpan explicitTimeout)
        {
            return RemainingOrDefault;
        }

        if (explicitTimeout < TimeSpan.Zero && explicitTimeout != Timeout.InfiniteTimeSpan)
        {
            throw new ArgumentOutOfRangeException(nameof(timeout), explicitTimeout, "A test timeout must be zero or positive.");
        }

        return Dilated(explicitTimeout);
    }

    [DoesNotReturn]
    private protected static void Fail(string message) => throw new XunitException(message);

    private protected bool TryReceiveOne(TimeSpan timeout, out Envelope envelope)
    {
        if (_queue.TryTake(timeout, out envelope))
        {
            _lastEnvelope = envelope;
            return true;
        }

        return false;
    }

    private protected static string Describe(object? message) => message is null
        ? "nothing"
        : $"{message} (type {message.GetType().Name})";

    private protected static string Describe(in Envelope envelope) =>
        $"{Describe(envelope.Message)} from {envelope.Sender?.Path.ToString() ?? "no sender"}";
}
