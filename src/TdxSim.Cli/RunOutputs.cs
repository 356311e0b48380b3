using TdxSim.Runtime.Tracing;
using TdxSim.Machine.Logging;
using TdxSim.Machine.Logging.Trace;
using TdxSim.Machine.Scenarios;

namespace TdxSim.Cli;

/// <summary>
/// The files a run writes: the message log (<c>--log</c>) and the trace (<c>--trace</c>) while it runs, the final
/// state (<c>--dump-state</c>) at its end. All are created before the guest starts, so a path that cannot be written
/// is a usage error naming that file rather than a result lost after the run.
/// </summary>
internal sealed class RunOutputs : IDisposable
{
    private readonly MessageRecorder? _recorder;
    private bool _completed;

    private RunOutputs(MessageRecorder? recorder, FileStream? dumpState)
    {
        _recorder = recorder;
        DumpState = dumpState;
    }

    public IReadOnlyList<IDeliveryObserver> Observers => _recorder is null ? [] : [_recorder];

    /// <summary>The final-state file, created (empty) before the run; null without <c>--dump-state</c>.</summary>
    public FileStream? DumpState { get; }

    /// <summary>Creates the files the scenario asks for; a path that cannot be created is a usage error naming it.</summary>
    public static RunOutputs Open(Scenario scenario)
    {
        var sinks = new List<MessageLogSink>();
        FileStream? dumpState = null;
        try
        {
            if (scenario.LogPath is { } log)
            {
                sinks.Add(Create("message log", log, JsonLinesLogSink.Create));
            }

            if (scenario.TracePath is { } trace)
            {
                sinks.Add(Create("trace", trace, ChromeTraceLogSink.Create));
            }

            if (scenario.DumpStatePath is { } dump)
            {
                // Unbuffered: a write that fails (disk full) must not leave bytes for Dispose to fail on again.
                dumpState = Create("final state", dump, p => new FileStream(p, FileMode.Create, FileAccess.Write, FileShare.Read, bufferSize: 0));
            }
        }
        catch
        {
            sinks.ForEach(s => s.Dispose());
            throw;
        }

        return new RunOutputs(sinks.Count == 0 ? null : new MessageRecorder(sinks, new MessageRecorderOptions { ServiceTimes = true }), dumpState);
    }

    /// <summary>Flushes the files and reports any message that could not be written.</summary>
    /// <returns>False when the log or the trace lost a message (a failed write, a full disk).</returns>
    public bool Complete(TextWriter stderr)
    {
        if (_recorder is null || _completed)
        {
            return true;
        }

        _completed = true;
        MessageLogReport report = _recorder.Complete();
        if (!report.IsLossless)
        {
            stderr.WriteLine($"tdxsim: {report}");
        }

        return report.IsLossless;
    }

    public void Dispose()
    {
        if (!_completed)
        {
            _recorder?.Complete();
            _completed = true;
        }

        DumpState?.Dispose();
    }

    private static T Create<T>(string what, string path, Func<string, T> create)
    {
        try
        {
            return create(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            throw new ScenarioException($"cannot create the {what} {path}: {e.Message}", e);
        }
    }
}
