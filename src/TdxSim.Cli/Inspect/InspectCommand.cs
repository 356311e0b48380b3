using System.Globalization;
using TdxSim.Machine.Logging.Reading;

namespace TdxSim.Cli.Inspect;

/// <summary>
/// <c>tdxsim inspect LOG.jsonl [--by KEY] [--vcpu N] [--follow CORR] [--json]</c> (contract section 5).
/// Program.cs parses the command line and calls <see cref="Run"/>.
/// </summary>
public static class InspectCommand
{
    /// <summary>Exit status on success.</summary>
    public const int Success = 0;

    /// <summary>Exit status on bad usage or bad input (a malformed log line, a missing file, an unknown correlation id).</summary>
    public const int UsageError = 2;

    private const string Prefix = "tdxsim inspect: ";

    /// <summary>
    /// Runs the command: the table (or JSON, or the followed request) goes to <paramref name="stdout"/>;
    /// problems go to <paramref name="stderr"/> as one line without a stack trace.
    /// </summary>
    /// <returns>0, or 2 on bad usage or bad input.</returns>
    public static int Run(InspectOptions options, TextWriter stdout, TextWriter stderr)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(stdout);
        ArgumentNullException.ThrowIfNull(stderr);

        if (Validate(options) is string usage)
        {
            stderr.WriteLine(Prefix + usage);
            return UsageError;
        }

        try
        {
            IEnumerable<LogEntry> entries = MessageLogReader.ReadFile(options.LogPath);
            return options.Follow is long corr
                ? Follow(options, corr, entries, stdout, stderr)
                : Table(options, entries, stdout, stderr);
        }
        catch (LogFormatException ex)
        {
            stderr.WriteLine(Prefix + ex.Message);
        }
        catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException)
        {
            stderr.WriteLine($"{Prefix}cannot read '{options.LogPath}': no such file");
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            stderr.WriteLine($"{Prefix}cannot read '{options.LogPath}': {ex.Message}");
        }

        return UsageError;
    }

    private static string? Validate(InspectOptions options)
    {
        if (string.IsNullOrWhiteSpace(options.LogPath))
        {
            return "missing the message log to read (usage: tdxsim inspect LOG.jsonl [--by subfn|leaf|reason|port|gpa|vcpu|actor] [--vcpu N] [--follow CORR] [--json])";
        }

        if (options.By is InspectKey key && !Enum.IsDefined(key))
        {
            return $"--by must be one of {string.Join(", ", InspectKeys.Names)}";
        }

        if (options.Vcpu is < 0)
        {
            return string.Create(CultureInfo.InvariantCulture, $"--vcpu must be 0 or more, got {options.Vcpu}");
        }

        if (options.Follow is not null && options.By is not null)
        {
            return "--follow prints one request's messages and cannot be combined with --by";
        }

        return null;
    }

    private static int Table(InspectOptions options, IEnumerable<LogEntry> entries, TextWriter stdout, TextWriter stderr)
    {
        if (options.EffectiveKey == InspectKey.Actor)
        {
            ActorReport actors = ActorReport.Analyze(entries, options.LogPath, options.Vcpu);
            if (options.Json)
            {
                actors.WriteJson(stdout);
            }
            else
            {
                actors.WriteTable(stdout);
            }

            if (actors.Rows.Count > 0 && actors.Rows.All(r => r.BusyNs is null && r.WaitP50Ns is null))
            {
                stderr.WriteLine($"{Prefix}note: the log has no wait_ns or service_ns fields (written by tdxsim run --log since the contention report): only message counts are shown");
            }

            return Success;
        }

        InspectReport report = InspectAnalyzer.Analyze(entries, options.LogPath, options.EffectiveKey, options.Vcpu);
        if (options.Json)
        {
            InspectJsonRenderer.Write(report, stdout);
        }
        else
        {
            InspectTableRenderer.Write(report, stdout);
        }

        CultureInfo c = CultureInfo.InvariantCulture;
        if (report.Incomplete > 0)
        {
            stderr.WriteLine(string.Create(c, $"{Prefix}note: {report.Incomplete} event(s) have no reply in the log (the run ended mid-request) and are not counted"));
        }

        if (report.Unmatched > 0)
        {
            stderr.WriteLine(string.Create(c, $"{Prefix}note: {report.Unmatched} message(s) fit no request (e.g. replies to requests from before the log began)"));
        }

        return Success;
    }

    private static int Follow(InspectOptions options, long corr, IEnumerable<LogEntry> entries, TextWriter stdout, TextWriter stderr)
    {
        FollowResult result = FollowResult.Collect(entries, options.LogPath, corr, options.Vcpu);
        if (result.Messages.Count == 0)
        {
            string scope = options.Vcpu is int v ? string.Create(CultureInfo.InvariantCulture, $" on vCPU {v}") : string.Empty;
            stderr.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{Prefix}no message with corr {corr}{scope} in '{options.LogPath}'"));
            return UsageError;
        }

        if (options.Json)
        {
            InspectJsonRenderer.WriteFollow(result, stdout);
        }
        else
        {
            FollowRenderer.Write(result, stdout);
        }

        return Success;
    }
}
