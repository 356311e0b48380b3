using TdxSim.Actors.Events;
using TdxSim.Machine.Logging;
using TdxSim.Machine.Scenarios;

namespace TdxSim.Cli;

/// <summary>The files a run writes while it runs: the message log (<c>--log</c>) and the trace (<c>--trace</c>).</summary>
internal sealed class RunOutputs : IDisposable
{
    private readonly MessageRecorder? _recorder;
    private bool _completed;

    private RunOutputs(MessageRecorder? recorder)
    {
        _recorder = recorder;
    }

    public IReadOnlyList<IDeliveryObserver> Observers => _recorder is null ? [] : [_recorder];

    /// <summary>Opens the files the scenario asks for; a path that cannot be created is a usage error.</summary>
    public static RunOutputs Open(Scenario scenario)
    {
        if (scenario.LogPath is null && scenario.TracePath is null)
        {
            return new RunOutputs(null);
        }

        try
        {
            return new RunOutputs(MessageRecorder.Create(scenario.LogPath, scenario.TracePath));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            throw new ScenarioException($"cannot create {scenario.LogPath ?? scenario.TracePath}: {e.Message}", e);
        }
    }

    /// <summary>Flushes the files and reports any message that could not be written.</summary>
    public void Complete(TextWriter stderr)
    {
        if (_recorder is null || _completed)
        {
            return;
        }

        _completed = true;
        MessageLogReport report = _recorder.Complete();
        if (!report.IsLossless)
        {
            stderr.WriteLine($"tdxsim: {report}");
        }
    }

    public void Dispose()
    {
        if (!_completed)
        {
            _recorder?.Complete();
            _completed = true;
        }
    }
}
