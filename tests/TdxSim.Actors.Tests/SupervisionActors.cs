using TdxSim.Actors.Supervision;

namespace TdxSim.Actors.Tests;

/// <summary>Reports every lifecycle step and handled message to a probe; <see cref="Fail"/> throws.</summary>
public sealed class LifecycleActor : ReceiveActor
{
    private readonly IActorRef _probe;
    private int _handled;

    public LifecycleActor(IActorRef probe)
    {
        _probe = probe;
        probe.Tell("ctor");
        Receive<Fail>(f => throw new InvalidOperationException(f.Reason));
        Receive<GetState>(_ => Sender.Tell(_handled));
        Receive<string>(s =>
        {
            _handled++;
            probe.Tell($"got {s}");
        });
    }

    protected override void PreStart() => _probe.Tell("PreStart");

    protected override void PostStop() => _probe.Tell("PostStop");

    protected override void PreRestart(Exception reason, object? message)
    {
        _probe.Tell($"PreRestart {reason.Message} {message}");
        base.PreRestart(reason, message);
    }

    protected override void PostRestart(Exception reason)
    {
        _probe.Tell($"PostRestart {reason.Message}");
        base.PostRestart(reason);
    }
}

/// <summary>Creates one child and forwards everything to it; supervises it with the strategy from its Props.</summary>
public sealed class ParentActor : ReceiveActor
{
    public ParentActor(Props childProps, string childName, IActorRef? probe = null)
    {
        IActorRef child = Context.ActorOf(childProps, childName);
        probe?.Tell(child);
        ReceiveAny(m => child.Forward(m));
    }
}

/// <summary>Strategies that report each decision to a probe before applying a fixed directive.</summary>
public static class Strategies
{
    public static SupervisorStrategy Always(Directive directive, IActorRef? probe = null, int maxRetries = -1, TimeSpan? window = null) =>
        new OneForOneStrategy(maxRetries, window ?? Timeout.InfiniteTimeSpan, exception =>
        {
            probe?.Tell($"decide {exception.GetType().Name}: {exception.Message}");
            return directive;
        });
}
