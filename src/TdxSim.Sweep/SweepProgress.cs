using System.Globalization;
using System.Diagnostics;

namespace TdxSim.Sweep;

/// <summary>
/// The progress line on stderr: runs done/total, runs/s, failures and ETA. On a terminal it is redrawn in place; when
/// stderr is a file or a pipe a line is written every few seconds, and once at the end.
/// </summary>
public sealed class SweepProgress
{
    private readonly TextWriter _out;
    private readonly bool _inPlace;
    private readonly TimeSpan _every;
    private readonly Stopwatch _clock = new();
    private TimeSpan _lastDrawn;
    private ulong _total;
    private long _done;
    private long _doneAtStart;
    private long _failures;
    private bool _drawn;

    /// <summary>Draws on <paramref name="output"/>: in place when <paramref name="terminal"/>, else a line at a time.</summary>
    public SweepProgress(TextWriter output, bool terminal, bool quiet = false)
    {
        _out = quiet ? TextWriter.Null : output;
        _inPlace = terminal;
        _every = terminal ? TimeSpan.FromMilliseconds(250) : TimeSpan.FromSeconds(5);
    }

    /// <summary>Starts counting: <paramref name="done"/> of <paramref name="total"/> runs are already done (resumed).</summary>
    public void Start(ulong total, long done, long failures)
    {
        _total = total;
        _done = _doneAtStart = done;
        _failures = failures;
        _clock.Restart();
        _lastDrawn = TimeSpan.Zero;
    }

    /// <summary>One more run is done.</summary>
    public void Report(RunResult result)
    {
        ArgumentNullException.ThrowIfNull(result);
        _done++;
        if (!result.Passed)
        {
            _failures++;
        }

        if (_clock.Elapsed - _lastDrawn >= _every)
        {
            Draw();
        }
    }

    /// <summary>The last line.</summary>
    public void Complete()
    {
        Draw();
        if (_inPlace && _drawn)
        {
            _out.WriteLine();
        }

        _out.Flush();
    }

    /// <summary>The line as it would be drawn now.</summary>
    public string Line()
    {
        double seconds = _clock.Elapsed.TotalSeconds;
        long ran = _done - _doneAtStart;
        double rate = seconds > 0 ? ran / seconds : 0;
        long left = (long)_total - _done;
        string eta = left == 0 ? "done" : rate > 0 ? "ETA " + Duration(left / rate) : "ETA ?";
        return string.Create(CultureInfo.InvariantCulture,
            $"tdxsim: sweep: {_done}/{_total} runs, {rate:0.0} runs/s, {_failures} failure{(_failures == 1 ? string.Empty : "s")}, {eta}");
    }

    private void Draw()
    {
        _lastDrawn = _clock.Elapsed;
        _drawn = true;
        if (_inPlace)
        {
            _out.Write("\r" + Line() + "\u001b[K");
        }
        else
        {
            _out.WriteLine(Line());
        }

        _out.Flush();
    }

    private static string Duration(double seconds) => seconds switch
    {
        < 60 => string.Create(CultureInfo.InvariantCulture, $"{seconds:0} s"),
        < 3600 => string.Create(CultureInfo.InvariantCulture, $"{Math.Floor(seconds / 60):0} min {seconds % 60:0} s"),
        _ => string.Create(CultureInfo.InvariantCulture, $"{Math.Floor(seconds / 3600):0} h {Math.Floor(seconds % 3600 / 60):0} min"),
    };
}
