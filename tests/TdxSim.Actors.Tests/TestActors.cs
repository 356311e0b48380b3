namespace TdxSim.Actors.Tests;

/// <summary>Small actors and messages shared by the runtime tests.</summary>
public sealed record Ping(int Id);

public sealed record Pong(int Id);

public sealed record Fail(string Reason);

public sealed record GetState;

public sealed record Numbered(int Sender, int Sequence);

/// <summary>Replies to <see cref="Ping"/> with <see cref="Pong"/> and echoes anything else back.</summary>
public sealed class EchoActor : ReceiveActor
{
    public EchoActor()
    {
        Receive<Ping>(p => Sender.Tell(new Pong(p.Id)));
        ReceiveAny(m => Sender.Tell(m));
    }
}

/// <summary>Counts messages; <see cref="GetState"/> returns the count; <see cref="Fail"/> throws.</summary>
public sealed class CounterActor : ReceiveActor
{
    private int _count;

    public CounterActor()
    {
        Receive<GetState>(_ => Sender.Tell(_count));
        Receive<Fail>(f => throw new InvalidOperationException(f.Reason));
        ReceiveAny(_ => _count++);
    }
}

/// <summary>Forwards every message to a target with itself as sender.</summary>
public sealed class RelayActor : ReceiveActor
{
    public RelayActor(IActorRef target)
    {
        ReceiveAny(m => target.Tell(m));
    }
}
