using System.Collections.Concurrent;
using Akka.Actor;
using Akka.Configuration;
using TdxSim.Runtime.Configuration;
using TdxSim.Runtime.Tracing;
using Xunit.Abstractions;

namespace TdxSim.Runtime.TestKit;

/// <summary>
/// Akka.TestKit.Xunit2's <see cref="Akka.TestKit.Xunit2.TestKit"/> on TdxSim's configuration (its tracing mailbox,
/// with the TestKit's own logger so <c>EventFilter</c> works), with the <see cref="TdxRuntime"/> extension ready.
/// </summary>
public abstract class TdxTestKit : Akka.TestKit.Xunit2.TestKit
{
    /// <summary>The configuration tests run on: TdxSim's default with the TestKit's logger.</summary>
    public static Config TestConfig(Config? overlay = null)
    {
        Config config = ConfigurationFactory.ParseString("""
            akka.loggers = ["Akka.TestKit.TestEventListener, Akka.TestKit"]
            akka.loglevel = WARNING
            """).WithFallback(RuntimeConfig.Default);
        return overlay is null ? config : overlay.WithFallback(config);
    }

    /// <summary>Starts a test system on <see cref="TestConfig"/>.</summary>
    protected TdxTestKit(Config? overlay = null, ITestOutputHelper? output = null)
        : base(TestConfig(overlay), output: output)
        => Runtime = TdxRuntime.Get(Sys);

    /// <summary>The runtime extension of the test system.</summary>
    protected TdxRuntime Runtime { get; }

    /// <summary>Records every delivery to a TdxSim actor (type, recipient, correlation id); attach it with <see cref="TdxRuntime.AddDeliveryObserver"/>.</summary>
    protected DeliveryRecorder RecordDeliveries()
    {
        var recorder = new DeliveryRecorder();
        Runtime.AddDeliveryObserver(recorder);
        return recorder;
    }

    /// <summary>
    /// Creates a top-level actor and waits until it runs. Akka starts a top-level actor asynchronously and replays what
    /// was sent to it meanwhile from another thread, so a correlation id made ambient for a send is only kept by an
    /// actor that already runs.
    /// </summary>
    protected IActorRef ActorOfStarted(Props props, string name)
    {
        IActorRef actor = Sys.ActorOf(props, name);
        actor.Ask<ActorIdentity>(new Identify(name), RemainingOrDefault).Wait(RemainingOrDefault);
        return actor;
    }

    /// <summary>Props of a <see cref="Relay"/> that forwards everything to <paramref name="target"/>.</summary>
    protected static Props RelayTo(IActorRef target) => Props.Create(() => new Relay(target));

    /// <summary>
    /// Sends <paramref name="message"/> to <paramref name="recipient"/> as if from an actor handling a message of
    /// correlation <paramref name="correlationId"/>: the message inherits it.
    /// </summary>
    protected static void TellWithCorrelation(IActorRef recipient, object message, IActorRef sender, long correlationId)
    {
        ArgumentNullException.ThrowIfNull(recipient);
        using (Correlation.Begin(correlationId))
        {
            recipient.Tell(message, sender);
        }
    }
}

/// <summary>A TdxSim actor that forwards every message to a probe, so tests see the correlation ids it received.</summary>
public sealed class Relay : TdxActor
{
    /// <summary>Creates the relay.</summary>
    public Relay(IActorRef target) => ReceiveAny(m => target.Forward(m));
}

/// <summary>One delivery to a TdxSim actor.</summary>
/// <param name="Message">The message.</param>
/// <param name="Recipient">Its recipient.</param>
/// <param name="CorrelationId">Its correlation id.</param>
/// <param name="SentAtNs">Its send time, or -1.</param>
public sealed record RecordedDelivery(object Message, IActorRef Recipient, long CorrelationId, long SentAtNs);

/// <summary>Records deliveries and undelivered messages, thread-safe.</summary>
public sealed class DeliveryRecorder : IDeliveryObserver
{
    private readonly ConcurrentQueue<RecordedDelivery> _delivered = new();
    private readonly ConcurrentQueue<(object Message, UndeliveredReason Reason)> _undelivered = new();

    /// <summary>Deliveries so far, in order.</summary>
    public IReadOnlyList<RecordedDelivery> Delivered => [.. _delivered];

    /// <summary>Undelivered messages so far.</summary>
    public IReadOnlyList<(object Message, UndeliveredReason Reason)> Undelivered => [.. _undelivered];

    /// <summary>The correlation id of the first delivery of a <typeparamref name="T"/>, or null.</summary>
    public long? CorrelationOf<T>() => _delivered.FirstOrDefault(d => d.Message is T)?.CorrelationId;

    /// <inheritdoc/>
    public void OnDelivered(in Delivery delivery, IActorRef recipient)
        => _delivered.Enqueue(new RecordedDelivery(delivery.Message, recipient, delivery.CorrelationId, delivery.SentAtNs));

    /// <inheritdoc/>
    public void OnUndelivered(in Delivery delivery, IActorRef recipient, UndeliveredReason reason)
        => _undelivered.Enqueue((delivery.Message, reason));
}
