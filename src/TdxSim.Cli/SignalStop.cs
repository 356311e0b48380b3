using System.Runtime.InteropServices;
using TdxSim.Machine;

namespace TdxSim.Cli;

/// <summary>
/// SIGINT and SIGTERM while a TD runs: the first stops it cleanly (its vCPUs' final states collected, the log, trace
/// and final state written in full, exit 130 or 143); a second one ends the process at once, as the default would.
/// </summary>
internal sealed class SignalStop : IDisposable
{
    private readonly PosixSignalRegistration[] _registrations;
    private readonly TextWriter _stderr;

    public SignalStop(TextWriter stderr)
    {
        _stderr = stderr;
        _registrations =
        [
            PosixSignalRegistration.Create(PosixSignal.SIGINT, c => OnSignal(c, "SIGINT", ExitStatus.Interrupted)),
            PosixSignalRegistration.Create(PosixSignal.SIGTERM, c => OnSignal(c, "SIGTERM", ExitStatus.Terminated)),
        ];
    }

    /// <summary>The stop request the machine listens to.</summary>
    public RunInterrupt Interrupt { get; } = new();

    public void Dispose()
    {
        foreach (PosixSignalRegistration registration in _registrations)
        {
            registration.Dispose();
        }
    }

    private void OnSignal(PosixSignalContext context, string name, int status)
    {
        if (Interrupt.Request(name, status))
        {
            context.Cancel = true;
            _stderr.WriteLine($"tdxsim: {name}: stopping the TD and writing its outputs (send it again to quit at once)");
        }
    }
}
