namespace TdxSim.Actors.Scheduling;

/// <summary>A handle to a scheduled delivery that can be called off.</summary>
public interface ICancelable
{
    /// <summary>True once <see cref="Cancel"/> was called.</summary>
    bool IsCancellationRequested { get; }

    /// <summary>
    /// Cancels future deliveries. A one-shot message already handed to the recipient's mailbox is not recalled.
    /// Idempotent and thread-safe.
    /// </summary>
    void Cancel();
}
