namespace TdxSim.Machine;

/// <summary>
/// A request from outside the TD to stop it now (the command line's SIGINT/SIGTERM handler): the machine stops its
/// vCPUs as at a time limit, collects their final states, and the run ends with <see cref="Status"/> and complete
/// outputs, every logged message a whole line.
/// </summary>
public sealed class RunInterrupt
{
    private readonly object _gate = new();
    private Action? _onRequest;

    /// <summary>The signal's name once requested (SIGINT, SIGTERM), else null.</summary>
    public string? Signal { get; private set; }

    /// <summary>The exit status the run ends with.</summary>
    public int Status { get; private set; }

    /// <summary>Asks the run to stop; only the first request counts.</summary>
    /// <returns>False when a stop was already requested.</returns>
    public bool Request(string signal, int status)
    {
        Action? notify;
        lock (_gate)
        {
            if (Signal is not null)
            {
                return false;
            }

            (Signal, Status) = (signal, status);
            notify = _onRequest;
        }

        notify?.Invoke();
        return true;
    }

    /// <summary>Calls <paramref name="onRequest"/> on a request, at once if one came already.</summary>
    internal void Attach(Action onRequest)
    {
        lock (_gate)
        {
            _onRequest = onRequest;
            if (Signal is null)
            {
                return;
            }
        }

        onRequest();
    }
}
