using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Akka.Actor;
using Akka.Configuration;

namespace TdxSim.Sweep;

/// <summary>A cluster endpoint given as <c>HOST:PORT</c>.</summary>
/// <param name="Host">A host name or IP address.</param>
/// <param name="Port">A TCP port, 1 to 65535.</param>
public sealed record Endpoint(string Host, int Port)
{
    /// <summary>Parses <c>HOST:PORT</c> (an IPv6 address in brackets).</summary>
    /// <exception cref="FormatException">Not such an endpoint; the message says why.</exception>
    public static Endpoint Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        int colon = text.LastIndexOf(':');
        if (colon <= 0 || colon == text.Length - 1)
        {
            throw new FormatException($"'{text}' is not HOST:PORT (e.g. 127.0.0.1:4053)");
        }

        string host = text[..colon].Trim('[', ']');
        if (!int.TryParse(text[(colon + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out int port) || port is < 1 or > 65535)
        {
            throw new FormatException($"'{text}': the port must be a number from 1 to 65535");
        }

        if (host.Length == 0 || host.Any(char.IsWhiteSpace) || host.Contains('"', StringComparison.Ordinal))
        {
            throw new FormatException($"'{text}' is not HOST:PORT: '{host}' is not a host");
        }

        return new Endpoint(host, port);
    }

    /// <inheritdoc/>
    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"{Host}:{Port}");
}

/// <summary>How to run a sweep.</summary>
public sealed record SweepOptions
{
    /// <summary>The runs.</summary>
    public required SweepPlan Plan { get; init; }

    /// <summary><c>--out</c>, or null.</summary>
    public string? OutPath { get; init; }

    /// <summary><c>--resume</c>: skip the runs <see cref="OutPath"/> holds.</summary>
    public bool Resume { get; init; }

    /// <summary>In-process workers (no cluster): one per core by default.</summary>
    public int LocalWorkers { get; init; } = Environment.ProcessorCount;

    /// <summary><c>--cluster HOST:PORT</c>: coordinate workers that join there, instead of running in process.</summary>
    public Endpoint? Cluster { get; init; }

    /// <summary><c>--min-workers N</c>: workers to wait for before the first run.</summary>
    public int MinWorkers { get; init; } = 1;

    /// <summary>The user's HOCON for this node's actor system (not the runs'), laid over the sweep's, or null.</summary>
    public Config? AkkaConfig { get; init; }

    /// <summary>Whether stderr is a terminal (the progress line is drawn in place).</summary>
    public bool Terminal { get; init; }
}

/// <summary>Runs a sweep: the coordinator, and in process its workers; or the coordinator of a cluster.</summary>
public static class SweepHost
{
    /// <summary>Runs <paramref name="options"/> to its end.</summary>
    /// <exception cref="SweepInputException">Bad input: the results file, a port in use, an address that cannot be bound.</exception>
    public static SweepOutcome Run(SweepOptions options, TextWriter stderr)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(stderr);
        IReadOnlyList<RunResult> held = [];
        using ResultsFile? results = options.OutPath is { } path ? ResultsFile.Open(path, options.Resume, options.Plan, out held) : null;
        ActorSystem system = options.Cluster is { } at
            ? CreateSystem(Over(options.AkkaConfig, SweepConfig.Coordinator(at.Host, at.Port)), $"cannot listen on {at}")
            : ActorSystem.Create(SweepConfig.SystemName, Over(options.AkkaConfig, SweepConfig.Local()));
        try
        {
            var done = new TaskCompletionSource<SweepOutcome>(TaskCreationOptions.RunContinuationsAsynchronously);
            var setup = new CoordinatorSetup(options.Plan, held, results, options.Cluster is null ? 1 : options.MinWorkers,
                new SweepProgress(stderr, options.Terminal), stderr, done);
            IActorRef coordinator = system.ActorOf(Props.Create(() => new SweepCoordinator(setup)), SweepConfig.CoordinatorName);
            if (options.Cluster is null)
            {
                var exit = new TaskCompletionSource<WorkerExit>(TaskCreationOptions.RunContinuationsAsynchronously);
                var worker = new WorkerSetup(coordinator, Math.Max(1, options.LocalWorkers), null, "this process", exit);
                system.ActorOf(Props.Create(() => new SweepWorker(worker)), "worker");
            }

            SweepOutcome outcome = done.Task.GetAwaiter().GetResult();
            if (options.Cluster is not null)
            {
                // Let the workers hear SweepFinished before this node leaves.
                Thread.Sleep(300);
            }

            return outcome;
        }
        finally
        {
            Shutdown(system);
        }
    }

    /// <summary>Runs a worker that joins the sweep at <paramref name="join"/>, until the sweep is finished.</summary>
    /// <param name="join">The coordinator.</param>
    /// <param name="slots">Runs at once.</param>
    /// <param name="bindHost">The address this worker listens on and is reached at; null: the one facing the coordinator.</param>
    /// <param name="bindPort">This worker's port; 0 for any free one.</param>
    /// <param name="joinTimeout">How long to wait for the coordinator.</param>
    /// <param name="stderr">Where the worker reports.</param>
    /// <param name="akkaConfig">The user's HOCON laid over the worker's, or null.</param>
    /// <exception cref="SweepInputException">Bad input: an unknown host, a port in use.</exception>
    public static WorkerExit RunWorker(Endpoint join, int slots, string? bindHost, int bindPort, TimeSpan joinTimeout, TextWriter stderr, Config? akkaConfig = null)
    {
        ArgumentNullException.ThrowIfNull(join);
        ArgumentNullException.ThrowIfNull(stderr);
        string host = bindHost ?? AddressFacing(join);
        ActorSystem system = CreateSystem(Over(akkaConfig, SweepConfig.Worker(host, bindPort, join.Host, join.Port)),
            string.Create(CultureInfo.InvariantCulture, $"cannot listen on {host}:{bindPort}"));
        try
        {
            var exit = new TaskCompletionSource<WorkerExit>(TaskCreationOptions.RunContinuationsAsynchronously);
            ActorSelection coordinator = system.ActorSelection($"{SweepConfig.Address(join.Host, join.Port)}/user/{SweepConfig.CoordinatorName}");
            int delay = int.TryParse(Environment.GetEnvironmentVariable("TDXSIM_SWEEP_REPORT_DELAY_MS"), NumberStyles.None, CultureInfo.InvariantCulture, out int d) ? d : 0;
            var setup = new WorkerSetup(coordinator, Math.Max(1, slots), joinTimeout, join.ToString(), exit) { ReportDelayMs = delay };
            system.ActorOf(Props.Create(() => new SweepWorker(setup)), "worker");
            return exit.Task.GetAwaiter().GetResult();
        }
        finally
        {
            Shutdown(system);
        }
    }

    /// <summary>The local address this host uses toward <paramref name="peer"/> (no packet is sent).</summary>
    private static string AddressFacing(Endpoint peer)
    {
        IPAddress[] addresses;
        try
        {
            addresses = IPAddress.TryParse(peer.Host, out IPAddress? ip) ? [ip] : Dns.GetHostAddresses(peer.Host);
        }
        catch (SocketException e)
        {
            throw new SweepInputException($"--join: cannot resolve {peer.Host}: {e.Message}", e);
        }

        if (addresses.Length == 0)
        {
            throw new SweepInputException($"--join: {peer.Host} has no address");
        }

        if (IPAddress.IsLoopback(addresses[0]))
        {
            return addresses[0].ToString();
        }

        try
        {
            using var socket = new Socket(addresses[0].AddressFamily, SocketType.Dgram, ProtocolType.Udp);
            socket.Connect(addresses[0], peer.Port);
            return ((IPEndPoint)socket.LocalEndPoint!).Address.ToString();
        }
        catch (SocketException e)
        {
            throw new SweepInputException($"--join: no route to {peer}: {e.Message}", e);
        }
    }

    private static Config Over(Config? user, Config config) => user is null ? config : user.WithFallback(config);

    private static ActorSystem CreateSystem(Config config, string what)
    {
        try
        {
            return ActorSystem.Create(SweepConfig.SystemName, config);
        }
        catch (Exception e) when (Innermost<SocketException>(e) is { } socket)
        {
            string why = socket.SocketErrorCode == SocketError.AddressAlreadyInUse ? "the port is in use" : socket.Message;
            throw new SweepInputException($"{what}: {why}", e);
        }
    }

    private static T? Innermost<T>(Exception? e)
        where T : Exception
    {
        T? found = null;
        for (; e is not null; e = e.InnerException)
        {
            if (e is T t)
            {
                found = t;
            }

            if (e is AggregateException a && a.InnerExceptions.Count > 0 && Innermost<T>(a.InnerExceptions[0]) is { } inner)
            {
                return inner;
            }
        }

        return found;
    }

    private static void Shutdown(ActorSystem system)
    {
        try
        {
            CoordinatedShutdown.Get(system).Run(CoordinatedShutdown.ClrExitReason.Instance).Wait(TimeSpan.FromSeconds(10));
        }
        catch (AggregateException)
        {
        }

        system.WhenTerminated.Wait(TimeSpan.FromSeconds(5));
        system.Dispose();
    }
}
