using System.Diagnostics;
using System.Globalization;
using Akka.Actor;
using Akka.Cluster;

namespace TdxSim.Sweep;

/// <summary>How a sweep ended.</summary>
/// <param name="Results">One result per run of the plan, in key order (those <c>--resume</c> found included).</param>
/// <param name="Resumed">Runs taken from the results file rather than run.</param>
/// <param name="Reassigned">Runs given again because their worker was lost.</param>
/// <param name="DuplicatesDropped">Results that arrived for a run already reported (a lost worker that came back).</param>
/// <param name="Elapsed">Wall time from the coordinator's start to the last result.</param>
public sealed record SweepOutcome(IReadOnlyList<RunResult> Results, int Resumed, int Reassigned, int DuplicatesDropped, TimeSpan Elapsed)
{
    /// <summary>Runs that did not exit 0.</summary>
    public int Failed => Results.Count(r => !r.Passed);
}

/// <summary>What the coordinator is told to do.</summary>
/// <param name="Plan">The runs.</param>
/// <param name="Held">Runs already done (<c>--resume</c>).</param>
/// <param name="Out">Where each result is appended as it arrives, or null.</param>
/// <param name="MinWorkers">Workers that must have joined before the first run is handed out.</param>
/// <param name="Progress">The progress line.</param>
/// <param name="Log">Where joins, losses and refusals are reported (stderr).</param>
/// <param name="Done">Completed with the outcome when every run is reported, or faulted.</param>
public sealed record CoordinatorSetup(
    SweepPlan Plan,
    IReadOnlyList<RunResult> Held,
    ResultsFile? Out,
    int MinWorkers,
    SweepProgress Progress,
    TextWriter Log,
    TaskCompletionSource<SweepOutcome> Done);

/// <summary>
/// The sweep's coordinator: the queue of runs, handed out one at a time to workers that ask (they pull), and the one
/// place results are recorded, so each (seed, vCPU count) is reported exactly once. A worker that terminates, becomes
/// unreachable or leaves the cluster loses nothing: its runs in flight go back to the front of the queue. In a
/// cluster the coordinator is the seed node; it downs an unreachable worker itself.
/// </summary>
public sealed class SweepCoordinator : ReceiveActor
{
    private readonly CoordinatorSetup _setup;
    private readonly LinkedList<RunKey> _pending = new();
    private readonly Dictionary<RunKey, IActorRef> _inFlight = [];
    private readonly Dictionary<RunKey, int> _attempts = [];
    private readonly Dictionary<RunKey, RunResult> _done = [];
    private readonly Dictionary<IActorRef, WorkerEntry> _workers = [];
    private readonly Queue<IActorRef> _waiting = new();
    private readonly HashSet<RunKey> _requeued = [];
    private readonly Stopwatch _clock = new();
    private readonly Cluster? _cluster;
    private bool _started;
    private bool _finished;
    private int _reassigned;
    private int _duplicates;

    /// <summary>Creates the coordinator.</summary>
    public SweepCoordinator(CoordinatorSetup setup)
    {
        ArgumentNullException.ThrowIfNull(setup);
        _setup = setup;
        foreach (RunResult held in setup.Held)
        {
            _done[held.Key] = held;
        }

        foreach (RunKey key in setup.Plan.Keys())
        {
            if (!_done.ContainsKey(key))
            {
                _pending.AddLast(key);
            }
        }

        if (Context.System.Settings.ProviderClass.Contains("Cluster", StringComparison.Ordinal))
        {
            _cluster = Cluster.Get(Context.System);
        }

        Receive<WorkerHello>(OnHello);
        Receive<WorkRequest>(_ => OnRequest(Sender));
        Receive<RunCompleted>(c => OnCompleted(c.Result, Sender));
        Receive<Terminated>(t => Lost(w => w.Equals(t.ActorRef), "stopped"));
        Receive<ClusterEvent.UnreachableMember>(u =>
        {
            if (Lost(w => w.Path.Address.Equals(u.Member.Address), "unreachable"))
            {
                _cluster?.Down(u.Member.Address);
            }
        });
        Receive<ClusterEvent.MemberRemoved>(m => Lost(w => w.Path.Address.Equals(m.Member.Address), "removed from the cluster"));
        Receive<ClusterEvent.IMemberEvent>(_ => { });
    }

    /// <inheritdoc/>
    protected override void PreStart()
    {
        _cluster?.Subscribe(Self, ClusterEvent.SubscriptionInitialStateMode.InitialStateAsEvents,
            typeof(ClusterEvent.UnreachableMember), typeof(ClusterEvent.MemberRemoved));
        if (_pending.Count == 0)
        {
            Finish();
        }
        else if (_setup.MinWorkers > 0 && _cluster is not null)
        {
            _setup.Log.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"tdxsim: sweep: {_pending.Count} runs to do; waiting for {_setup.MinWorkers} worker{(_setup.MinWorkers == 1 ? string.Empty : "s")} to join {_cluster.SelfAddress}"));
        }
    }

    /// <inheritdoc/>
    protected override void PostStop()
    {
        _cluster?.Unsubscribe(Self);
        _setup.Done.TrySetException(new InvalidOperationException("the sweep coordinator stopped before the sweep ended"));
    }

    private void OnHello(WorkerHello hello)
    {
        if (hello.Version != BuildVersion.Current)
        {
            string reason = $"this worker runs TdxSim {hello.Version}, the coordinator {BuildVersion.Current}; every node of a sweep must run the same build";
            _setup.Log.WriteLine($"tdxsim: sweep: refused worker {hello.Name}: {reason}");
            Sender.Tell(new WorkerRefused(reason));
            if (_cluster is not null && Sender.Path.Address.HasGlobalScope)
            {
                _cluster.Down(Sender.Path.Address);
            }

            return;
        }

        if (_workers.ContainsKey(Sender))
        {
            Sender.Tell(new WorkerWelcome(_setup.Plan.Scenario));
            return;
        }

        _workers[Sender] = new WorkerEntry(hello.Name, hello.Slots);
        Context.Watch(Sender);
        Sender.Tell(new WorkerWelcome(_setup.Plan.Scenario));
        if (_cluster is not null)
        {
            _setup.Log.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"tdxsim: sweep: worker {hello.Name} joined ({hello.Slots} slot{(hello.Slots == 1 ? string.Empty : "s")}; {_workers.Count} worker{(_workers.Count == 1 ? string.Empty : "s")})"));
        }

        if (_finished)
        {
            Sender.Tell(new SweepFinished(_done.Count));
        }
        else if (!_started && _workers.Count >= Math.Max(1, _setup.MinWorkers))
        {
            // The clock and the progress line start with the first run, not with the wait for workers.
            _started = true;
            _clock.Start();
            _setup.Progress.Start(_setup.Plan.Total, _done.Count, _done.Values.Count(r => !r.Passed));
            ServeWaiting();
        }
    }

    private void OnRequest(IActorRef worker)
    {
        if (_finished || !_workers.ContainsKey(worker))
        {
            return;
        }

        if (!_started || !TryAssign(worker))
        {
            // Nothing to hand out now; a lost worker's run may come back to the queue, so the slot waits for it.
            _waiting.Enqueue(worker);
        }
    }

    private bool TryAssign(IActorRef worker)
    {
        if (_pending.First is not { } first)
        {
            return false;
        }

        RunKey key = first.Value;
        _pending.RemoveFirst();
        _requeued.Remove(key);
        int attempt = _attempts[key] = _attempts.GetValueOrDefault(key) + 1;
        _inFlight[key] = worker;
        _workers[worker].InFlight.Add(key);
        worker.Tell(new RunAssignment(key.Seed, key.Vcpus, attempt));
        return true;
    }

    private void ServeWaiting()
    {
        int rounds = _waiting.Count;
        while (rounds-- > 0 && _pending.Count > 0)
        {
            IActorRef worker = _waiting.Dequeue();
            if (_workers.ContainsKey(worker))
            {
                TryAssign(worker);
            }
        }
    }

    private void OnCompleted(RunResult result, IActorRef worker)
    {
        RunKey key = result.Key;
        if (_workers.TryGetValue(worker, out WorkerEntry? entry))
        {
            entry.InFlight.Remove(key);
            entry.Runs++;
        }

        if (_done.TryGetValue(key, out RunResult? first))
        {
            // Reported once: a second result (a worker thought lost that came back) is dropped, and checked.
            _duplicates++;
            if (!first.SameOutcome(result))
            {
                _setup.Log.WriteLine($"tdxsim: sweep: {key} gave different results on {first.Worker} and {result.Worker}: the run is not deterministic there (log {first.LogSha256[..Math.Min(12, first.LogSha256.Length)]} vs {result.LogSha256[..Math.Min(12, result.LogSha256.Length)]})");
            }

            return;
        }

        if (!_setup.Plan.Contains(key) || _finished)
        {
            return;
        }

        _done[key] = result;
        if (_inFlight.Remove(key, out IActorRef? holder) && !holder.Equals(worker) && _workers.TryGetValue(holder, out WorkerEntry? other))
        {
            other.InFlight.Remove(key);
        }

        // A run given again after its worker was lost may be reported by the lost one first: unqueue it.
        if (_requeued.Remove(key))
        {
            _pending.Remove(key);
        }

        try
        {
            _setup.Out?.Append(result, _setup.Plan);
        }
        catch (IOException e)
        {
            _setup.Done.TrySetException(new SweepInputException($"--out: cannot write {_setup.Out?.Path}: {e.Message}", e));
            Context.Stop(Self);
            return;
        }

        _setup.Progress.Report(result);
        if (_done.Count == (int)_setup.Plan.Total)
        {
            Finish();
        }
    }

    /// <summary>Every worker matching <paramref name="which"/> is gone: its runs in flight go back to the queue.</summary>
    private bool Lost(Func<IActorRef, bool> which, string how)
    {
        bool any = false;
        foreach ((IActorRef worker, WorkerEntry entry) in _workers.Where(w => which(w.Key)).ToList())
        {
            any = true;
            _workers.Remove(worker);
            Context.Unwatch(worker);
            var again = entry.InFlight.Where(k => !_done.ContainsKey(k)).OrderByDescending(k => k).ToList();
            foreach (RunKey key in again)
            {
                _inFlight.Remove(key);
                _pending.AddFirst(key);
                _requeued.Add(key);
            }

            _reassigned += again.Count;
            if (!_finished)
            {
                string runs = again.Count == 0
                    ? "no run in flight"
                    : string.Create(CultureInfo.InvariantCulture, $"{again.Count} run{(again.Count == 1 ? string.Empty : "s")} in flight queued again ({string.Join("; ", again.OrderBy(k => k))})");
                _setup.Log.WriteLine($"tdxsim: sweep: worker {entry.Name} lost ({how}) after {entry.Runs} runs: {runs}");
            }
        }

        if (any)
        {
            var kept = _waiting.Where(_workers.ContainsKey).ToList();
            _waiting.Clear();
            kept.ForEach(_waiting.Enqueue);
            ServeWaiting();
            if (!_finished && _workers.Count == 0 && _pending.Count > 0)
            {
                _setup.Log.WriteLine(string.Create(CultureInfo.InvariantCulture, $"tdxsim: sweep: no worker left; {_pending.Count} runs wait for one to join"));
            }
        }

        return any;
    }

    private void Finish()
    {
        if (_finished)
        {
            return;
        }

        _finished = true;
        _setup.Progress.Complete();
        foreach (IActorRef worker in _workers.Keys)
        {
            worker.Tell(new SweepFinished(_done.Count));
        }

        var results = _setup.Plan.Keys().Select(k => _done[k]).ToList();
        _setup.Done.TrySetResult(new SweepOutcome(results, _setup.Held.Count, _reassigned, _duplicates, _clock.Elapsed));
    }

    private sealed class WorkerEntry(string name, int slots)
    {
        public string Name { get; } = name;

        public int Slots { get; } = slots;

        public HashSet<RunKey> InFlight { get; } = [];

        public int Runs { get; set; }
    }
}
