using Akka.Actor;
using Akka.Configuration;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Toolchains.InProcess.Emit;
using TdxSim.Runtime;
using TdxSim.Runtime.Configuration;

namespace TdxSim.Benchmarks.Runtime;

/// <summary>
/// The actor runtime alone, on TdxSim's actors (<see cref="TdxActor"/>: tracing mailbox, correlation ids, delivery
/// hook) without guest code: the 8-message shape of a #VE round trip (vCPU → module → vCPU → module → vCPU → module →
/// VMM → module → vCPU) as plain actors, chains run back to back from one vCPU; and an external Ask of one actor.
/// Dispatchers: Akka's default, Akka's thread-pool-executor at TdxSim's throughput of 30, TdxSim's hand-off executor (the default of <c>tdxsim run</c>), and the
/// deterministic dispatcher driven on the benchmark's thread. Run with
/// <c>dotnet run -c Release --project perf/TdxSim.Benchmarks -- --filter '*AkkaChain*'</c>.
/// </summary>
[MemoryDiagnoser]
[Config(typeof(ChainConfig))]
public class AkkaChainBenchmarks
{
    /// <summary>Chains (or Asks) per invocation.</summary>
    public const int Chains = 100_000;

    private ActorSystem _system = null!;
    private TdxRuntime _runtime = null!;
    private IActorRef _vcpu = null!;
    private IActorRef _echo = null!;

    /// <summary>Which dispatcher the actors run on.</summary>
    [Params("akka-default", "thread-pool", "tdxsim-handoff", "deterministic")]
    public string Dispatcher { get; set; } = "tdxsim-handoff";

    /// <summary>Starts the system and the three actors of the chain.</summary>
    [GlobalSetup]
    public void Setup()
    {
        Config config = Dispatcher switch
        {
            "akka-default" => RuntimeConfig.Build(false, 0, ConfigurationFactory.ParseString("tdxsim.dispatcher-id = \"akka.actor.default-dispatcher\"")),
            "thread-pool" => RuntimeConfig.Build(false, 0, ConfigurationFactory.ParseString("tdxsim.concurrent-dispatcher.executor = thread-pool-executor")),
            "tdxsim-handoff" => RuntimeConfig.Build(false, 0),
            _ => RuntimeConfig.Build(true, 1),
        };
        _system = RuntimeConfig.CreateSystem("bench", config);
        _runtime = TdxRuntime.Get(_system);
        IActorRef vmm = _system.ActorOf(_runtime.Configure(Props.Create(() => new Vmm())), "vmm");
        IActorRef module = _system.ActorOf(_runtime.Configure(Props.Create(() => new Module(vmm))), "tdx-module");
        _vcpu = _system.ActorOf(_runtime.Configure(Props.Create(() => new Vcpu(module))), "vcpu");
        _echo = _system.ActorOf(_runtime.Configure(Props.Create(() => new Echo())), "echo");
        Chain();
    }

    /// <summary>Stops the system.</summary>
    [GlobalCleanup]
    public void Cleanup()
    {
        _runtime.Terminate(TimeSpan.FromSeconds(10));
    }

    /// <summary><see cref="Chains"/> 8-message chains back to back; the figure is per chain.</summary>
    [Benchmark(OperationsPerInvoke = Chains)]
    public int Chain()
    {
        var run = new RunChains(Chains, new TaskCompletionSource<int>(TaskCreationOptions.RunContinuationsAsynchronously));
        _vcpu.Tell(run);
        return Wait(run.Done.Task);
    }

    /// <summary>An Ask from outside the system, one at a time; the figure is per Ask.</summary>
    [Benchmark(OperationsPerInvoke = Chains)]
    public int ExternalAsk()
    {
        int sum = 0;
        for (int i = 0; i < Chains; i++)
        {
            sum += Wait(_echo.Ask<int>(i));
        }

        return sum;
    }

    private int Wait(Task<int> task)
    {
        if (_runtime.Deterministic is { } loop && !loop.RunUntil(task, _runtime.VirtualTime, TimeSpan.FromSeconds(5)))
        {
            throw new InvalidOperationException("the deterministic dispatcher went idle");
        }

        return task.GetAwaiter().GetResult();
    }

    private sealed record RunChains(int Count, TaskCompletionSource<int> Done);

    private sealed record Exited(int Step);

    private sealed record Entered(int Step);

    private sealed record VmmRequest(int Step);

    private sealed record VmmReply(int Step);

    private sealed class Vcpu : TdxActor
    {
        private RunChains? _run;
        private int _left;

        public Vcpu(IActorRef module)
        {
            Receive<RunChains>(r =>
            {
                (_run, _left) = (r, r.Count);
                StartCorrelation();
                module.Tell(new Exited(0));
            });
            Receive<Entered>(e =>
            {
                if (e.Step < 2)
                {
                    module.Tell(new Exited(e.Step + 1));
                }
                else if (--_left > 0)
                {
                    StartCorrelation();
                    module.Tell(new Exited(0));
                }
                else
                {
                    _run!.Done.TrySetResult(_run.Count);
                }
            });
        }
    }

    private sealed class Module : TdxActor
    {
        public Module(IActorRef vmm)
        {
            IActorRef? vcpu = null;
            Receive<Exited>(e =>
            {
                vcpu = Sender;
                if (e.Step == 2)
                {
                    vmm.Tell(new VmmRequest(e.Step));
                }
                else
                {
                    Sender.Tell(new Entered(e.Step));
                }
            });
            Receive<VmmReply>(r => vcpu!.Tell(new Entered(r.Step)));
        }
    }

    private sealed class Vmm : TdxActor
    {
        public Vmm() => Receive<VmmRequest>(r => Sender.Tell(new VmmReply(r.Step)));
    }

    private sealed class Echo : TdxActor
    {
        public Echo() => Receive<int>(i => Sender.Tell(i));
    }

    private sealed class ChainConfig : ManualConfig
    {
        public ChainConfig()
        {
            AddJob(Job.Default
                .WithToolchain(InProcessEmitToolchain.Instance)
                .WithWarmupCount(3)
                .WithIterationCount(10)
                .WithInvocationCount(1)
                .WithUnrollFactor(1));
        }
    }
}
