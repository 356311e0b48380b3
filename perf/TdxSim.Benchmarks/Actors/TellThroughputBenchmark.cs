using BenchmarkDotNet.Attributes;
using TdxSim.Actors;

namespace TdxSim.Benchmarks.Actors;

/// <summary>
/// Tell throughput: <see cref="Pairs"/> producer actors each stream messages to their own consumer actor
/// in batches (a producer re-tells itself between batches, as a busy actor would). Reported per message;
/// messages/s = 1 / mean. Target on the 2-core machine: at least 10 M messages/s.
/// </summary>
[Config(typeof(ActorBenchmarkConfig))]
public class TellThroughputBenchmark
{
    private const int MessagesPerInvoke = 1_000_000;
    private const int Batch = 1_000;
    private ActorSystem _system = null!;
    private IActorRef[] _producers = null!;

    /// <summary>Producer/consumer pairs.</summary>
    [Params(1, 2, 4)]
    public int Pairs { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _system = ActorSystem.Create("tell-bench");
        _producers = new IActorRef[Pairs];
        for (int i = 0; i < Pairs; i++)
        {
            IActorRef consumer = _system.ActorOf(Props.Create<ConsumerActor>(), $"consumer-{i}");
            _producers[i] = _system.ActorOf(Props.Create(() => new ProducerActor(consumer)), $"producer-{i}");
        }
    }

    [GlobalCleanup]
    public void Cleanup() => _system.Terminate().Wait();

    [Benchmark(OperationsPerInvoke = MessagesPerInvoke)]
    public void Tell()
    {
        int perPair = MessagesPerInvoke / Pairs;
        var starts = new BenchStart[Pairs];
        var waits = new Task[Pairs];
        for (int i = 0; i < Pairs; i++)
        {
            starts[i] = new BenchStart(perPair, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));
            waits[i] = starts[i].Done.Task;
        }

        for (int i = 0; i < Pairs; i++)
        {
            _producers[i].Tell(starts[i], ActorRefs.NoSender);
        }

        Task.WaitAll(waits);
    }

    private sealed class ProducerActor : ReceiveActor
    {
        private int _remaining;

        public ProducerActor(IActorRef consumer)
        {
            Receive<BenchStart>(start =>
            {
                _remaining = start.Count;
                consumer.Tell(start, Self);
                Self.Tell(BenchTick.Instance, Self);
            });
            Receive<BenchTick>(_ =>
            {
                int n = Math.Min(Batch, _remaining);
                for (int i = 0; i < n; i++)
                {
                    consumer.Tell(BenchTick.Instance, Self);
                }

                _remaining -= n;
                if (_remaining > 0)
                {
                    Self.Tell(BenchTick.Instance, Self);
                }
            });
        }
    }

    private sealed class ConsumerActor : ReceiveActor
    {
        private int _remaining;
        private TaskCompletionSource? _done;

        public ConsumerActor()
        {
            Receive<BenchStart>(start =>
            {
                _remaining = start.Count;
                _done = start.Done;
            });
            Receive<BenchTick>(_ =>
            {
                if (--_remaining == 0)
                {
                    _done!.SetResult();
                }
            });
        }
    }
}
