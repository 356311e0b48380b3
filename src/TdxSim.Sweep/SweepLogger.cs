using Akka.Actor;
using Akka.Event;

namespace TdxSim.Sweep;

/// <summary>
/// Akka's log on sweep nodes: one line per event on stderr, as TdxSim's other actor systems write it, without the
/// transport's reports of a peer going away (a worker killed, a node leaving): the coordinator says what it does about
/// a lost worker in its own words.
/// </summary>
public sealed class SweepLogger : ReceiveActor
{
    /// <summary>Created by Akka from <c>akka.loggers</c>.</summary>
    public SweepLogger()
    {
        Receive<InitializeLogger>(_ => Sender.Tell(new LoggerInitialized()));
        Receive<LogEvent>(e =>
        {
            if (IsPeerGone(e))
            {
                return;
            }

            string level = e.LogLevel().ToString().Replace("Level", string.Empty, StringComparison.Ordinal).ToLowerInvariant();
            Console.Error.WriteLine($"tdxsim: akka {level}: {e.LogSource}: {e.Message}{(e.Cause is null ? string.Empty : $" ({e.Cause.GetType().Name}: {e.Cause.Message})")}");
        });
    }

    private static readonly string[] PeerGoneTypes =
        ["EndpointDisassociatedException", "InvalidAssociation", "EndpointAssociationException", "ShutDownAssociation", "SocketException", "InvalidAssociationException"];

    private static bool IsPeerGone(LogEvent e)
    {
        for (Exception? cause = e.Cause; cause is not null; cause = cause.InnerException)
        {
            if (PeerGoneTypes.Contains(cause.GetType().Name))
            {
                return true;
            }
        }

        string message = e.Message?.ToString() ?? string.Empty;
        // "Remoting system has been terminated abruptly": a port in use, which the command reports in one line itself.
        return message.Contains("Disassociated", StringComparison.Ordinal) || message.Contains("Association", StringComparison.Ordinal)
            || message.Contains("terminated abruptly", StringComparison.Ordinal) || message.Contains("Failed to bind", StringComparison.Ordinal);
    }
}
