using System.Text;
using System.Text.Json;

namespace TdxSim.Sweep;

/// <summary>A results file or stdout JSON could not be used: one line for the user (exit status 2).</summary>
public sealed class SweepInputException : Exception
{
    /// <summary>Creates the exception.</summary>
    public SweepInputException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception.</summary>
    public SweepInputException()
    {
    }

    /// <summary>Creates the exception.</summary>
    public SweepInputException(string message, Exception inner)
        : base(message, inner)
    {
    }
}

/// <summary>The JSON of one run: a line of <c>--out</c> and an element of <c>--json</c>'s <c>runs</c>.</summary>
public static class RunJson
{
    /// <summary>Writes <paramref name="result"/> as one object.</summary>
    public static void Write(Utf8JsonWriter json, RunResult result, SweepPlan plan)
    {
        ArgumentNullException.ThrowIfNull(json);
        ArgumentNullException.ThrowIfNull(result);
        ArgumentNullException.ThrowIfNull(plan);
        json.WriteStartObject();
        json.WriteNumber("seed", result.Seed);
        json.WriteNumber("vcpus", result.Vcpus);
        json.WriteNumber("status", result.Status);
        json.WriteString("reason", result.Reason);
        json.WriteString("detail", result.Detail);
        json.WriteNumber("instructions", result.Instructions);
        json.WriteNumber("virtual_ns", result.VirtualNs);
        json.WriteString("log_sha256", result.LogSha256);
        json.WriteString("state_sha256", result.StateSha256);
        json.WriteString("replay", plan.ReplayCommand(result.Key));
        json.WriteString("scenario", plan.Scenario.Argument);
        json.WriteString("worker", result.Worker);
        json.WriteNumber("wall_ms", Math.Round(result.WallMs, 3));
        json.WriteEndObject();
    }

    /// <summary>One line of <c>--out</c>, with its newline.</summary>
    public static byte[] Line(RunResult result, SweepPlan plan)
    {
        var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            Write(json, result, plan);
        }

        buffer.WriteByte((byte)'\n');
        return buffer.ToArray();
    }

    /// <summary>Reads one line of <c>--out</c>.</summary>
    /// <exception cref="FormatException">The line is not a run's JSON.</exception>
    public static (RunResult Result, string? Scenario) Parse(string line)
    {
        try
        {
            using var doc = JsonDocument.Parse(line);
            JsonElement e = doc.RootElement;
            var result = new RunResult(
                e.GetProperty("seed").GetUInt64(),
                e.GetProperty("vcpus").GetInt32(),
                e.GetProperty("status").GetInt32(),
                e.GetProperty("reason").GetString() ?? string.Empty,
                e.TryGetProperty("detail", out JsonElement d) ? d.GetString() ?? string.Empty : string.Empty,
                e.GetProperty("instructions").GetUInt64(),
                e.GetProperty("virtual_ns").GetInt64(),
                e.GetProperty("log_sha256").GetString() ?? string.Empty,
                e.GetProperty("state_sha256").GetString() ?? string.Empty,
                e.TryGetProperty("wall_ms", out JsonElement w) ? w.GetDouble() : 0,
                e.TryGetProperty("worker", out JsonElement k) ? k.GetString() ?? string.Empty : string.Empty);
            return (result, e.TryGetProperty("scenario", out JsonElement s) ? s.GetString() : null);
        }
        catch (Exception x) when (x is JsonException or KeyNotFoundException or InvalidOperationException or FormatException)
        {
            throw new FormatException(x is KeyNotFoundException ? "a field is missing (seed, vcpus, status, reason, instructions, virtual_ns, log_sha256, state_sha256)" : x.Message.Split('\n')[0], x);
        }
    }
}

/// <summary>
/// <c>--out RESULTS.jsonl</c>: one line per run, appended and flushed as each result arrives, so a coordinator that
/// stops (killed, machine lost) leaves every result it had, and <c>--resume</c> continues from them.
/// </summary>
public sealed class ResultsFile : IDisposable
{
    private readonly FileStream _file;

    private ResultsFile(FileStream file, string path)
    {
        _file = file;
        Path = path;
    }

    /// <summary>The file's path.</summary>
    public string Path { get; }

    /// <summary>
    /// Opens <paramref name="path"/>: created afresh, or with <paramref name="resume"/> read and appended to. A last line
    /// without its newline (the coordinator stopped while writing it) is cut off; any other line that is not a run of
    /// this scenario is an error naming its line.
    /// </summary>
    /// <param name="path">The file.</param>
    /// <param name="resume">Keep and return what the file holds.</param>
    /// <param name="plan">The sweep: runs outside it are kept in the file but not returned.</param>
    /// <param name="held">The runs of the plan the file already holds (first of each key).</param>
    /// <exception cref="SweepInputException">The file cannot be opened or holds a bad line.</exception>
    public static ResultsFile Open(string path, bool resume, SweepPlan plan, out IReadOnlyList<RunResult> held)
    {
        ArgumentNullException.ThrowIfNull(plan);
        var found = new Dictionary<RunKey, RunResult>();
        FileStream file;
        try
        {
            file = new FileStream(path, resume ? FileMode.OpenOrCreate : FileMode.Create, FileAccess.ReadWrite, FileShare.Read);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            throw new SweepInputException($"--out: cannot open {path}: {e.Message}", e);
        }

        try
        {
            if (resume)
            {
                long keep = ReadHeld(file, path, plan, found);
                file.SetLength(keep);
                file.Seek(0, SeekOrigin.End);
            }
        }
        catch
        {
            file.Dispose();
            throw;
        }

        held = [.. found.Values.OrderBy(r => r.Key)];
        return new ResultsFile(file, path);
    }

    /// <summary>Appends one run and flushes it to the file.</summary>
    /// <exception cref="IOException">The file cannot be written.</exception>
    public void Append(RunResult result, SweepPlan plan)
    {
        _file.Write(RunJson.Line(result, plan));
        _file.Flush(flushToDisk: false);
    }

    /// <inheritdoc/>
    public void Dispose() => _file.Dispose();

    private static long ReadHeld(FileStream file, string path, SweepPlan plan, Dictionary<RunKey, RunResult> found)
    {
        byte[] bytes = new byte[file.Length];
        file.ReadExactly(bytes);
        int lastNewline = Array.LastIndexOf(bytes, (byte)'\n');
        long keep = lastNewline + 1;
        string text = Encoding.UTF8.GetString(bytes, 0, (int)keep);
        int number = 0;
        foreach (string raw in text.Split('\n'))
        {
            number++;
            string line = raw.TrimEnd('\r');
            if (line.Length == 0)
            {
                continue;
            }

            RunResult result;
            string? scenario;
            try
            {
                (result, scenario) = RunJson.Parse(line);
            }
            catch (FormatException e)
            {
                throw new SweepInputException($"--resume: {path}:{number}: not a sweep result: {e.Message}", e);
            }

            if (scenario is not null && scenario != plan.Scenario.Argument)
            {
                throw new SweepInputException($"--resume: {path}:{number}: a run of another scenario ({scenario}, not {plan.Scenario.Argument}); give another --out");
            }

            if (plan.Contains(result.Key))
            {
                found.TryAdd(result.Key, result);
            }
        }

        return keep;
    }
}
