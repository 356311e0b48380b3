using System.Globalization;
using Akka.Actor;
using Akka.Cluster;
using TdxSim.Machine.Scenarios;

namespace TdxSim.Sweep;

/// <summary>How a worker ended: its exit status and one line saying why.</summary>
/// <param name="Status">0 when the sweep finished, 1 when the coordinator went away, 2 when it could not take part.</param>
/// <param name="Message">One line for stderr.</param>
/// <param name="Runs">Runs this worker completed.</param>
public sealed record WorkerExit(int Status, string Message, long Runs);

/// <summary>What a worker is told to do.</summary>
/// <param name="Coordinator">The coordinator: a local actor, or the path of the remote one.</param>
/// <param name="Slots">Runs taken at once (one thread each).</param>
/// <param name="JoinTimeout">How long to wait for the coordinator's welcome before giving up, or null for ever.</param>
/// <param name="CoordinatorName">The coordinator's address in messages (HOST:PORT).</param>
/// <param name="Exit">Completed when the worker is done.</param>
public sealed record WorkerSetup(ICanTell Coordinator, int Slots, TimeSpan? JoinTimeout, string CoordinatorName, TaskCompletionSource<WorkerExit> Exit)
{
    /// <summary>Sleep after each run before reporting it (milliseconds): widens the window in which a run is in flight, for tests.</summary>
    public int ReportDelayMs { get; init; }
}

/// <summary>
/// A sweep worker: says hello to the coordinator (in a cluster, once this node is Up), takes the scenario it is sent,
/// and keeps <see cref="WorkerSetup.Slots"/> requests for work open: each assignment runs on its own thread
/// (<see cref="RunExecutor"/>: a deterministic run owns its thread) and its result goes back with the next request.
/// </summary>
public sealed class SweepWorker : ReceiveActor, IWithTimers
{
    private const string HelloTimer = "hello";
    private const string JoinTimer = "join";
    private readonly WorkerSetup _setup;
    private readonly Cluster? _cluster;
    private readonly string _name;
    private IActorRef? _coordinator;
    private Scenario? _scenario;
    private long _runs;
    private int _running;
    private bool _up;

    /// <summary>Creates the worker.</summary>
    public SweepWorker(WorkerSetup setup)
    {
        ArgumentNullException.ThrowIfNull(setup);
        _setup = setup;
        if (Context.System.Settings.ProviderClass.Contains("Cluster", StringComparison.Ordinal))
        {
            _cluster = Cluster.Get(Context.System);
        }

        _name = _cluster?.SelfAddress.ToString() ?? "local";
        // Up, or weakly up (a member joins while the cluster cannot converge, e.g. while another is unreachable).
        Receive<ClusterEvent.MemberUp>(up => OnMemberUp(up.Member));
        Receive<ClusterEvent.MemberWeaklyUp>(up => OnMemberUp(up.Member));
        Receive<ClusterEvent.MemberRemoved>(m =>
        {
            if (_cluster is not null && m.Member.Address.Equals(_cluster.SelfAddress))
            {
                End(1, $"this worker was removed from the sweep cluster at {_setup.CoordinatorName} (taken for lost)");
            }
        });
        Receive<ClusterEvent.UnreachableMember>(u =>
        {
            // Nobody downs an unreachable coordinator (the cluster has no downing provider), so no Terminated would come.
            if (_coordinator is not null && u.Member.Address.Equals(_coordinator.Path.Address))
            {
                End(1, $"lost the sweep coordinator at {_setup.CoordinatorName} (unreachable) before the sweep finished; restart this worker when it is back");
            }
        });
        Receive<ClusterEvent.IMemberEvent>(_ => { });
        Receive<SayHelloAgain>(_ => SayHello());
        Receive<JoinTimedOut>(_ => End(2, $"cannot join the sweep at {_setup.CoordinatorName}: no answer within {_setup.JoinTimeout?.TotalSeconds.ToString(CultureInfo.InvariantCulture)} s (is the coordinator running there, and the port open?)"));
        Receive<WorkerWelcome>(OnWelcome);
        Receive<WorkerRefused>(r => End(2, $"refused by the sweep at {_setup.CoordinatorName}: {r.Reason}"));
        Receive<RunAssignment>(OnAssignment);
        Receive<LocalRunDone>(OnRunDone);
        Receive<SweepFinished>(_ => End(0, string.Create(CultureInfo.InvariantCulture, $"the sweep at {_setup.CoordinatorName} is finished; {_runs} run{(_runs == 1 ? string.Empty : "s")} here")));
        Receive<Terminated>(t =>
        {
            if (t.ActorRef.Equals(_coordinator))
            {
                End(1, $"the sweep coordinator at {_setup.CoordinatorName} went away before the sweep finished");
            }
        });
    }

    /// <inheritdoc/>
    public ITimerScheduler Timers { get; set; } = null!;

    /// <inheritdoc/>
    protected override void PreStart()
    {
        if (_setup.JoinTimeout is { } timeout)
        {
            Timers.StartSingleTimer(JoinTimer, new JoinTimedOut(), timeout);
        }

        if (_cluster is not null)
        {
            _cluster.Subscribe(Self, ClusterEvent.SubscriptionInitialStateMode.InitialStateAsEvents,
                typeof(ClusterEvent.MemberUp), typeof(ClusterEvent.MemberWeaklyUp), typeof(ClusterEvent.MemberRemoved), typeof(ClusterEvent.UnreachableMember));
        }
        else
        {
            _up = true;
            SayHello();
        }
    }

    /// <inheritdoc/>
    protected override void PostStop()
    {
        _cluster?.Unsubscribe(Self);
        _setup.Exit.TrySetResult(new WorkerExit(1, "the worker stopped", _runs));
    }

    private void OnMemberUp(Member member)
    {
        if (_cluster is not null && member.Address.Equals(_cluster.SelfAddress) && !_up)
        {
            _up = true;
            SayHello();
            Timers.StartPeriodicTimer(HelloTimer, new SayHelloAgain(), TimeSpan.FromSeconds(2));
        }
    }

    private void SayHello() => _setup.Coordinator.Tell(new WorkerHello(BuildVersion.Current, _name, _setup.Slots), Self);

    private void OnWelcome(WorkerWelcome welcome)
    {
        if (_coordinator is not null)
        {
            return;
        }

        Timers.Cancel(HelloTimer);
        Timers.Cancel(JoinTimer);
        try
        {
            _scenario = welcome.Scenario.Load();
        }
        catch (ScenarioException e)
        {
            End(2, $"cannot load the sweep's scenario here: {e.Message}");
            return;
        }

        _coordinator = Sender;
        Context.Watch(_coordinator);
        for (int i = 0; i < _setup.Slots; i++)
        {
            _coordinator.Tell(WorkRequest.Instance);
        }
    }

    private void OnAssignment(RunAssignment assignment)
    {
        if (_scenario is not { } scenario)
        {
            return;
        }

        _running++;
        IActorRef self = Self;
        string name = _name;
        int delay = _setup.ReportDelayMs;
        Task.Factory.StartNew(
            () =>
            {
                RunResult result = RunExecutor.Execute(scenario, assignment.Key, name);
                if (delay > 0)
                {
                    Thread.Sleep(delay);
                }

                self.Tell(new LocalRunDone(result));
            },
            CancellationToken.None,
            TaskCreationOptions.LongRunning,
            TaskScheduler.Default);
    }

    private void OnRunDone(LocalRunDone done)
    {
        _running--;
        _runs++;
        _coordinator?.Tell(new RunCompleted(done.Result));
        _coordinator?.Tell(WorkRequest.Instance);
    }

    private void End(int status, string message)
    {
        _setup.Exit.TrySetResult(new WorkerExit(status, message, _runs));
        Context.Stop(Self);
    }

    private sealed record SayHelloAgain;

    private sealed record JoinTimedOut;

    private sealed record LocalRunDone(RunResult Result);
}
