using BenchmarkDotNet.Attributes;
using TdxSim.Actors;

namespace TdxSim.Benchmarks.Actors;

/// <summary>
/// Cost and allocation of one Tell of a cached message, sent from outside any actor to a counting actor,
/// in bursts of <see cref="Burst"/> that are drained before the next invocation. Expect 0 B/op.
/// </summary>
[Config(typeof(ActorBenchmarkConfig))]
public class TellAllocationBenchmark
{
    private const int Burst = 1_000;
    private static readonly BenchTick Message = BenchTick.Instance;
    private ActorSystem _system = null!;
    private IActorRef _sink = null!;
    private CountingActor.Counter _counter = null!;
    private long _sent;

    [GlobalSetup]
    public void Setup()
    {
        _system = ActorSystem.Create("tell-alloc-bench");
        var counter = new CountingActor.Counter();
        _counter = counter;
        _sink = _system.ActorOf(Props.Create(() => new CountingActor(counter)), "sink");
    }

    [GlobalCleanup]
    public void Cleanup() => _system.Terminate().Wait();

    [Benchmark(OperationsPerInvoke = Burst)]
    public void TellCachedMessage()
    {
        for (int i = 0; i < Burst; i++)
        {
            _sink.Tell(Message, ActorRefs.NoSender);
        }

        _sent += Burst;
        var spinner = default(SpinWait);
        while (Volatile.Read(ref _counter.Value) < _sent)
        {
            spinner.SpinOnce();
        }
    }

    private sealed class CountingActor : ReceiveActor
    {
        public CountingActor(Counter counter)
        {
            Receive<BenchTick>(_ => Volatile.Write(ref counter.Value, counter.Value + 1));
        }

        public sealed class Counter
        {
            public long Value;
        }
    }
}
