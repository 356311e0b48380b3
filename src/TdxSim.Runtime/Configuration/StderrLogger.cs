using Akka.Actor;
using Akka.Event;

namespace TdxSim.Runtime.Configuration;

/// <summary>Akka's log, one line per event on stderr (stdout belongs to the guest's COM1).</summary>
public sealed class StderrLogger : ReceiveActor
{
    /// <summary>Created by Akka from <c>akka.loggers</c>.</summary>
    public StderrLogger()
    {
        Receive<InitializeLogger>(_ => Sender.Tell(new LoggerInitialized()));
        Receive<LogEvent>(e => Console.Error.WriteLine($"tdxsim: akka {e.LogLevel().ToString().Replace("Level", string.Empty, StringComparison.Ordinal).ToLowerInvariant()}: {e.LogSource}: {e.Message}{(e.Cause is null ? string.Empty : $" ({e.Cause.GetType().Name}: {e.Cause.Message})")}"));
    }
}
