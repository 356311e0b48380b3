using TdxSim.Runtime.Counters;
using Akka.Actor;
using TdxSim.Runtime.Tracing;
using TdxSim.Guest.Diagnostics;
using TdxSim.Images.Guests;
using TdxSim.Machine.Scenarios;

namespace TdxSim.Machine.Stress;

/// <summary>What <c>tdxsim stress</c> should do (contract section 4).</summary>
public sealed record StressOptions
{
    /// <summary>Number of vCPUs driving the operation.</summary>
    public int Vcpus { get; init; } = 1;

    /// <summary>The operation.</summary>
    public StressOp Op { get; init; } = StressOp.Pio;

    /// <summary>#VE or paravirt TDCALL.</summary>
    public IoPath Path { get; init; } = IoPath.Ve;

    /// <summary>Total operations, split evenly over the vCPUs (null when <see cref="Seconds"/> is set).</summary>
    public ulong? Count { get; init; } = 100_000;

    /// <summary>Run for this long instead of a count (wall time; virtual time in deterministic mode).</summary>
    public double? Seconds { get; init; }

    /// <summary>One VMM, or one per vCPU.</summary>
    public VmmTopology Vmm { get; init; } = VmmTopology.Single;

    /// <summary>One TDX module actor, or one per vCPU.</summary>
    public ModuleTopology Module { get; init; } = ModuleTopology.Single;

    /// <summary>Single-threaded seeded scheduler on virtual time.</summary>
    public bool Deterministic { get; init; }

    /// <summary>
    /// Operations run before measuring, split over the vCPUs like <see cref="Count"/>, so the figures are those of
    /// JIT-optimized code; null picks <see cref="DefaultWarmup"/>.
    /// </summary>
    public ulong? Warmup { get; init; }

    /// <summary>
    /// The warm-up when none is given: a fifth of <paramref name="count"/>, at most 200,000 operations, in real-time
    /// runs of a count; none in deterministic runs (virtual time has no JIT) or runs of a time.
    /// </summary>
    public static ulong DefaultWarmup(ulong? count, bool deterministic) =>
        deterministic || count is not ulong c ? 0 : Math.Min(c / 5, 200_000);

    /// <summary>Seed.</summary>
    public ulong Seed { get; init; }

    /// <summary>The user's Akka.NET configuration laid over TdxSim's default (<c>--akka-config FILE</c>), or null.</summary>
    public Akka.Configuration.Config? AkkaConfig { get; init; }

    /// <summary>A stop request from the user (SIGINT, SIGTERM), or null.</summary>
    public RunInterrupt? Interrupt { get; init; }

    /// <summary>More observers of every delivery (the message log and trace of <c>--log</c>/<c>--trace</c>).</summary>
    public IReadOnlyList<IDeliveryObserver> Observers { get; init; } = [];

    /// <summary>Deterministic mode's virtual-time costs.</summary>
    public CostModelSettings Costs { get; init; } = new();

    /// <summary>Record the contention report (per actor and device); on by default.</summary>
    public bool Contention { get; init; } = true;
}

/// <summary>Latency percentiles in nanoseconds.</summary>
public sealed record LatencySummary(long P50, long P99, long P999, long Max, double Mean);

/// <summary>What a stress run measured.</summary>
public sealed record StressResult(
    StressOptions Options,
    long Ops,
    double Seconds,
    double OpsPerSecond,
    LatencySummary LatencyNs,
    long Messages,
    ulong Instructions,
    int ExitStatus,
    string Reason,
    string Detail,
    long VirtualNanoseconds)
{
    /// <summary>Messages no handler took (dead letters, dropped, unhandled): zero in a clean run.</summary>
    public UndeliveredMessages Undelivered { get; init; }

    /// <summary>Operations run before the measurement began (not in <see cref="Ops"/> or the latencies).</summary>
    public ulong WarmupOps { get; init; }

    /// <summary>Measured operations per vCPU, by index.</summary>
    public IReadOnlyList<long> VcpuOps { get; init; } = [];

    /// <summary>Jain's fairness index over <see cref="VcpuOps"/>.</summary>
    public double Fairness => ContentionReport.JainIndex(VcpuOps);

    /// <summary>Where the time went, per actor and device, when <see cref="StressOptions.Contention"/> asked for it.</summary>
    public ContentionReport? Contention { get; init; }
}

/// <summary>
/// Runs a stress guest on a TD and reports throughput and round-trip latency. Latency is measured by each vCPU
/// from the exit (the TDCALL, or the TD exit of a #VE) to the return to guest code, on the system clock.
/// </summary>
public static class StressRunner
{
    /// <summary>
    /// The per-vCPU instruction limit of a <c>--count</c> run, a safety net: an operation is at most a dozen
    /// instructions, so a guest that runs far past 64 per operation is broken. Saturating, because a wrapped limit
    /// would cut a huge count short and look like a finished run.
    /// </summary>
    /// <param name="operationsPerVcpu">Operations the busiest vCPU performs.</param>
    public static ulong InstructionLimit(ulong operationsPerVcpu)
        => operationsPerVcpu <= (ulong.MaxValue - 10_000) / 64 ? (operationsPerVcpu * 64) + 10_000 : ulong.MaxValue;

    /// <summary>Runs one stress configuration.</summary>
    /// <exception cref="ScenarioException">The options are inconsistent.</exception>
    public static StressResult Run(StressOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (!StressGuest.Supports(options.Op, options.Path))
        {
            throw new ScenarioException($"--op {options.Op.ToString().ToLowerInvariant()} exists only with --path paravirt (a VMCALL instruction in a TD is an unexpected #VE)");
        }

        if (options.Vcpus is < 1 or > Scenario.MaxVcpus)
        {
            throw new ScenarioException($"--vcpus must be between 1 and {Scenario.MaxVcpus}, not {options.Vcpus}");
        }

        ulong[] counts = [];
        long[] warmups = new long[options.Vcpus];
        ulong warmup = options.Warmup ?? StressOptions.DefaultWarmup(options.Seconds is null ? options.Count : null, options.Deterministic);
        if (warmup > 1_000_000_000)
        {
            throw new ScenarioException($"--warmup must be at most 1000000000, not {warmup}");
        }

        for (int i = 0; i < warmups.Length; i++)
        {
            warmups[i] = (long)((warmup / (ulong)options.Vcpus) + ((ulong)i < warmup % (ulong)options.Vcpus ? 1UL : 0UL));
        }

        ulong? timeLimitMs = null;
        ulong? maxInstructions = null;
        if (options.Seconds is double s)
        {
            if (!(s > 0 && s <= 86_400))
            {
                throw new ScenarioException($"--seconds must be greater than 0 and at most 86400, not {s}");
            }

            timeLimitMs = Math.Max(1, (ulong)(s * 1000));
        }
        else
        {
            ulong total = options.Count ?? throw new ScenarioException("stress needs --count or --seconds");
            if (total == 0)
            {
                throw new ScenarioException("--count must be greater than zero");
            }

            counts = new ulong[options.Vcpus];
            for (int i = 0; i < counts.Length; i++)
            {
                counts[i] = (total / (ulong)options.Vcpus) + ((ulong)i < total % (ulong)options.Vcpus ? 1UL : 0UL) + (ulong)warmups[i];
            }

            maxInstructions = InstructionLimit(counts[0]);
        }

        var scenario = new Scenario
        {
            Name = $"stress-{options.Op}-{options.Path}".ToLowerInvariant(),
            Guest = GuestSource.FromProgram(StressGuest.Build(options.Op, options.Path, counts).ToImage()),
            Vcpus = options.Vcpus,
            Vmm = options.Vmm,
            Module = options.Module,
            Deterministic = options.Deterministic,
            Seed = options.Seed,
            AkkaConfig = options.AkkaConfig,
            TimeLimitMs = timeLimitMs,
            MaxInstructions = maxInstructions,
            Quiet = true,
            Costs = options.Costs,
        };

        var counter = new MessageCounter();
        MachineResult result = TdMachine.Run(scenario, new MachineIo(Stream.Null, [counter, .. options.Observers]) { Interrupt = options.Interrupt, WarmupRoundTrips = warmups, Contention = options.Contention });

        var latency = new LatencyHistogram();
        long from = long.MaxValue, until = long.MinValue;
        var vcpuOps = new long[options.Vcpus];
        for (int index = 0; index < result.Statistics.Count; index++)
        {
            VcpuStatistics stats = result.Statistics[index];
            LatencyHistogram own = options.Path == IoPath.Ve ? stats.VeLatency : stats.TdcallLatency;
            latency.Merge(own);
            if (index < vcpuOps.Length)
            {
                vcpuOps[index] = own.Count;
            }

            if (stats.MeasuredFromNs >= 0)
            {
                from = Math.Min(from, stats.MeasuredFromNs);
                until = Math.Max(until, stats.MeasuredUntilNs);
            }
        }

        // With a warm-up, the time is that of the measured operations: from the first one's start to the last one's
        // end on the runtime's clock (virtual in deterministic runs). Without one, the whole run's, start-up included.
        double seconds = warmup > 0 && until > from
            ? (until - from) / 1e9
            : options.Deterministic ? result.VirtualNanoseconds / 1e9 : result.Elapsed.TotalSeconds;
        seconds = Math.Max(seconds, 1e-9);
        return new StressResult(
            options,
            latency.Count,
            seconds,
            latency.Count / seconds,
            new LatencySummary(latency.Percentile(50), latency.Percentile(99), latency.Percentile(99.9), latency.Max, latency.Mean),
            counter.Delivered,
            result.TotalInstructions,
            result.ExitStatus,
            result.Reason,
            result.Detail,
            result.VirtualNanoseconds)
        {
            Undelivered = result.Undelivered,
            WarmupOps = warmup,
            VcpuOps = vcpuOps,
            Contention = result.Contention,
        };
    }
}

/// <summary>Counts delivered messages and dead letters (thread-safe, allocation-free).</summary>
public sealed class MessageCounter : IDeliveryObserver
{
    // Striped: every delivery of every vCPU's thread counts here, and one shared counter would put a cache-line
    // transfer between cores into each message.
    private readonly TdxSim.Runtime.Counters.StripedCounter _delivered = new();
    private long _deadLetters;

    /// <summary>Messages delivered to a handler.</summary>
    public long Delivered => _delivered.Value;

    /// <summary>Messages that reached dead letters.</summary>
    public long DeadLetters => Interlocked.Read(ref _deadLetters);

    /// <inheritdoc/>
    public void OnDelivered(in Delivery delivery, IActorRef recipient) => _delivered.Increment();

    /// <inheritdoc/>
    public void OnUndelivered(in Delivery delivery, IActorRef recipient, UndeliveredReason reason) => Interlocked.Increment(ref _deadLetters);

    /// <summary>Counting needs no send times, so a stress run does not pay a clock read per message for them.</summary>
    public bool WantsSendTimes => false;
}
