using TdxSim.Actors.Dispatch;
using TdxSim.Actors.Internal;

namespace TdxSim.Actors;

/// <summary>Sending helpers with Akka.NET's names: <c>Tell(msg)</c>, <c>Forward</c>, <c>Ask</c>, <c>PipeTo</c>.</summary>
public static class ActorRefExtensions
{
    /// <summary>
    /// Sends <paramref name="message"/> with the actor running on this thread as sender (no sender outside
    /// actors), like Akka's implicit sender.
    /// </summary>
    public static void Tell(this IActorRef target, object message)
    {
        ArgumentNullException.ThrowIfNull(target);
        target.Tell(message, ActorCell.CurrentSelfOrNoSender);
    }

    /// <summary>
    /// Sends <paramref name="message"/> keeping the original sender of the message being handled, so the
    /// recipient replies straight to it.
    /// </summary>
    /// <exception cref="InvalidOperationException">Called outside an actor's handler.</exception>
    public static void Forward(this IActorRef target, object message)
    {
        ArgumentNullException.ThrowIfNull(target);
        ActorCell current = ActorCell.Current
            ?? throw new InvalidOperationException("Forward keeps the sender of the message being handled, so it can only be called inside an actor's handler; use Tell(message, sender) elsewhere.");
        target.Tell(message, current.CurrentEnvelope.Sender);
    }

    /// <summary>
    /// Sends <paramref name="message"/> and returns the first reply as a task: a reply of type
    /// <typeparamref name="T"/> completes it, a <see cref="Status.Failure"/> faults it with its cause, any other
    /// reply faults it with <see cref="InvalidCastException"/>.
    /// </summary>
    /// <param name="target">The actor to ask.</param>
    /// <param name="message">The question.</param>
    /// <param name="timeout">
    /// Positive and finite (required): after it, measured with the system clock, the task faults with
    /// <see cref="AskTimeoutException"/>. It also faults at once if the question goes to dead letters.
    /// </param>
    /// <remarks>
    /// Called from a thread that is not running an actor, and the target is idle on the concurrent dispatcher,
    /// the target's turn runs on the calling thread (the caller waits for the reply anyway), so a simple
    /// request/reply completes synchronously without a thread switch.
    /// </remarks>
    /// <exception cref="ArgumentOutOfRangeException">The timeout is zero, negative or infinite.</exception>
    public static Task<T> Ask<T>(this IActorRef target, object message, TimeSpan timeout)
    {
        ArgumentNullException.ThrowIfNull(target);
        ArgumentNullException.ThrowIfNull(message);
        if (timeout <= TimeSpan.Zero || timeout == Timeout.InfiniteTimeSpan)
        {
            throw new ArgumentOutOfRangeException(nameof(timeout), timeout,
                "Ask requires a positive, finite timeout: a zero, negative or infinite timeout could leave the caller waiting forever (Akka rule AK2000).");
        }

        if (target is not InternalActorRef internalTarget)
        {
            throw new ArgumentException($"{target.GetType().Name} is not an actor ref created by this runtime.", nameof(target));
        }

        ActorSystem system = internalTarget.System;
        var promise = new PromiseActorRef<T>(system, target, message.GetType(), timeout);
        system.DeterministicPromises?.AddOrUpdate(promise.Task, promise);
        long correlationId = ActorCell.CorrelationIdForSend(system);
        if (target is LocalActorRef local
            && local.Mailbox.Dispatcher is ThreadPoolDispatcher
            && ActorCell.Current is null
            && !ThreadPoolDispatcher.IsRunningHere)
        {
            var envelope = new Envelope(message, promise, correlationId, system.SendTime());
            if (local.Mailbox.PostAndClaim(in envelope))
            {
                ThreadPoolDispatcher.Run(local.Mailbox);
            }
        }
        else
        {
            target.Tell(message, promise, correlationId);
            // An actor that asks may well block on the answer (bad practice, but it must not deadlock):
            // do not leave the target parked behind this handler.
            if (ThreadPoolDispatcher.IsRunningHere)
            {
                ThreadPoolDispatcher.FlushHandoff();
            }
        }

        if (!promise.Task.IsCompleted)
        {
            promise.ArmTimeout(system.CallbackScheduler);
        }

        return promise.Task;
    }

    /// <summary>Untyped <see cref="Ask{T}"/>: any reply completes the task (a <see cref="Status.Failure"/> faults it).</summary>
    public static Task<object> Ask(this IActorRef target, object message, TimeSpan timeout) => Ask<object>(target, message, timeout);

    /// <summary>
    /// When <paramref name="task"/> completes, tells its result to <paramref name="recipient"/> (or a
    /// <see cref="Status.Failure"/> if it failed or was cancelled): the safe way to use an async result inside
    /// an actor, whose state must not be touched from a continuation.
    /// </summary>
    /// <remarks>
    /// For an Ask task of a deterministic system the result is told synchronously, on the loop thread, at the
    /// step that produced it, so the run stays reproducible; otherwise a continuation tells it from the pool.
    /// </remarks>
    public static Task PipeTo<T>(this Task<T> task, IActorRef recipient, IActorRef? sender = null)
    {
        ArgumentNullException.ThrowIfNull(task);
        ArgumentNullException.ThrowIfNull(recipient);
        if (recipient is InternalActorRef { System.DeterministicPromises: { } promises } && promises.TryGetValue(task, out IPromiseActorRef? promise))
        {
            promise.PipeTo(recipient, sender);
            return task;
        }

        long correlationId = recipient is InternalActorRef r ? ActorCell.CorrelationIdForSend(r.System) : 0;
        return task.ContinueWith(
            t =>
            {
                object reply = t.IsCompletedSuccessfully
                    ? t.Result!
                    : new Status.Failure(t.Exception?.InnerException ?? new TaskCanceledException(t));
                if (correlationId != 0)
                {
                    recipient.Tell(reply, sender, correlationId);
                }
                else
                {
                    recipient.Tell(reply, sender);
                }
            },
            CancellationToken.None,
            TaskContinuationOptions.ExecuteSynchronously,
            TaskScheduler.Default);
    }
}
