namespace TdxSim.Machine.Scenarios;

/// <summary>
/// A scenario, option or image that cannot be used. The message is one line naming what is wrong
/// (with file and line for YAML); the command line prints it and exits with status 2.
/// </summary>
public sealed class ScenarioException : Exception
{
    /// <summary>Creates the exception.</summary>
    public ScenarioException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with a cause.</summary>
    public ScenarioException(string message, Exception inner)
        : base(message, inner)
    {
    }

    /// <summary>Creates an empty exception (serialization pattern).</summary>
    public ScenarioException()
    {
    }
}
