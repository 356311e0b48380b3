using TdxSim.Actors.Events;

namespace TdxSim.Actors.Internal;

/// <summary>An immutable snapshot of the registered observers; replaced wholesale on change.</summary>
internal sealed class DeliveryObserverList(IDeliveryObserver[] observers)
{
    public IDeliveryObserver[] Observers { get; } = observers;

    /// <summary>True when any observer reads send times.</summary>
    public bool WantsSendTimes { get; } = Array.Exists(observers, o => o.WantsSendTimes);

    public void Delivered(in Envelope envelope, IActorRef recipient)
    {
        foreach (IDeliveryObserver observer in Observers)
        {
            observer.OnDelivered(in envelope, recipient);
        }
    }

    public void DeadLetter(in Envelope envelope, IActorRef recipient, DeadLetterReason reason)
    {
        foreach (IDeliveryObserver observer in Observers)
        {
            observer.OnDeadLetter(in envelope, recipient, reason);
        }
    }
}
