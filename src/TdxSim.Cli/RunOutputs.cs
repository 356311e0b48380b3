using TdxSim.Actors.Events;
using TdxSim.Machine.Scenarios;

namespace TdxSim.Cli;

/// <summary>The files a run writes while it runs: the message log and the trace.</summary>
internal sealed class RunOutputs : IDisposable
{
    private readonly List<IDeliveryObserver> _observers = [];

    private RunOutputs()
    {
    }

    public IReadOnlyList<IDeliveryObserver> Observers => _observers;

    public static RunOutputs Open(Scenario scenario)
    {
        var outputs = new RunOutputs();
        _ = scenario;
        return outputs;
    }

    public void Complete(TextWriter stderr)
    {
        _ = stderr;
    }

    public void Dispose()
    {
    }
}
