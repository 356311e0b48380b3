using BenchmarkDotNet.Attributes;
using TdxSim.Actors;

namespace TdxSim.Benchmarks.Actors;

/// <summary>
/// Request/reply latency, the shape of every TDCALL hop: an external <c>Ask</c> to an echo actor, and two
/// actors playing request/reply ping-pong (reported per round trip). Target: at most 1 us median.
/// </summary>
[Config(typeof(ActorBenchmarkConfig))]
public class AskRoundTripBenchmark
{
    private const int PingPongRoundTrips = 10_000;
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);
    private static readonly BenchRequest Request = new(1);
    private ActorSystem _system = null!;
    private IActorRef _echo = null!;
    private IActorRef _pinger = null!;

    [GlobalSetup]
    public void Setup()
    {
        _system = ActorSystem.Create("ask-bench");
        _echo = _system.ActorOf(Props.Create<EchoActor>(), "echo");
        IActorRef ponger = _system.ActorOf(Props.Create<EchoActor>(), "ponger");
        _pinger = _system.ActorOf(Props.Create(() => new PingerActor(ponger)), "pinger");
    }

    [GlobalCleanup]
    public void Cleanup() => _system.Terminate().Wait();

    /// <summary>External caller asks an idle echo actor and waits for the reply.</summary>
    [Benchmark]
    public BenchReply ExternalAsk() => _echo.Ask<BenchReply>(Request, Timeout).GetAwaiter().GetResult();

    /// <summary>Actor-to-actor request/reply, per round trip (two hops).</summary>
    [Benchmark(OperationsPerInvoke = PingPongRoundTrips)]
    public void ActorPingPong()
    {
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _pinger.Tell(new BenchStart(PingPongRoundTrips, done), ActorRefs.NoSender);
        done.Task.GetAwaiter().GetResult();
    }

    private sealed class EchoActor : ReceiveActor
    {
        public EchoActor()
        {
            Receive<BenchRequest>(r => Sender.Tell(new BenchReply(r.Value)));
        }
    }

    private sealed class PingerActor : ReceiveActor
    {
        private int _remaining;
        private TaskCompletionSource? _done;

        public PingerActor(IActorRef ponger)
        {
            Receive<BenchStart>(start =>
            {
                _remaining = start.Count;
                _done = start.Done;
                ponger.Tell(Request, Self);
            });
            Receive<BenchReply>(_ =>
            {
                if (--_remaining == 0)
                {
                    _done!.SetResult();
                }
                else
                {
                    ponger.Tell(Request, Self);
                }
            });
        }
    }
}
