namespace TdxSim.Machine.Logging.Reading;

/// <summary>
/// A message log line that does not follow contract section 6. The message names the file and line:
/// <c>run.jsonl:17: missing field 'seq'</c>.
/// </summary>
public sealed class LogFormatException : Exception
{
    /// <summary>Creates the exception for <paramref name="fileName"/>:<paramref name="lineNumber"/>.</summary>
    public LogFormatException(string fileName, int lineNumber, string problem)
        : base($"{fileName}:{lineNumber}: {problem}")
    {
        FileName = fileName;
        LineNumber = lineNumber;
        Problem = problem;
    }

    /// <summary>Creates the exception with a message only.</summary>
    public LogFormatException()
        : this("log", 0, "malformed message log")
    {
    }

    /// <summary>Creates the exception with a message only.</summary>
    public LogFormatException(string message)
        : this("log", 0, message)
    {
    }

    /// <summary>Creates the exception with a message and cause.</summary>
    public LogFormatException(string message, Exception innerException)
        : base(message, innerException)
    {
        FileName = "log";
        Problem = message;
    }

    /// <summary>The file as named by the caller.</summary>
    public string FileName { get; }

    /// <summary>1-based line number.</summary>
    public int LineNumber { get; }

    /// <summary>What is wrong, without the location.</summary>
    public string Problem { get; }
}
