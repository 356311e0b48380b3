using BenchmarkDotNet.Attributes;
using TdxSim.Actors;

namespace TdxSim.Benchmarks.Actors;

/// <summary>
/// Cost of one step of the deterministic dispatcher (seeded actor choice, one message, schedule fingerprint):
/// <see cref="Actors"/> ping-pong pairs run for a fixed number of steps.
/// </summary>
[Config(typeof(ActorBenchmarkConfig))]
public class DeterministicDispatcherBenchmark
{
    private const int Steps = 100_000;
    private static readonly BenchRequest Request = new(1);
    private ActorSystem _system = null!;

    /// <summary>Runnable actors competing for each step (pairs x 2).</summary>
    [Params(2, 64)]
    public int Actors { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _system = ActorSystem.Create("det-bench", ActorSystemOptions.Deterministic(seed: 42));
        for (int i = 0; i < Actors / 2; i++)
        {
            IActorRef b = _system.ActorOf(Props.Create<BouncerActor>(), $"b-{i}");
            IActorRef a = _system.ActorOf(Props.Create<BouncerActor>(), $"a-{i}");
            b.Tell(Request, a);
        }
    }

    [GlobalCleanup]
    public void Cleanup() => _system.Terminate().Wait();

    [Benchmark(OperationsPerInvoke = Steps)]
    public long Step() => _system.Deterministic!.RunUntilIdle(Steps);

    private sealed class BouncerActor : ReceiveActor
    {
        public BouncerActor()
        {
            Receive<BenchRequest>(r => Sender.Tell(r, Self));
        }
    }
}
