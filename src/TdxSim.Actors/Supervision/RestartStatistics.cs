namespace TdxSim.Actors.Supervision;

/// <summary>
/// Restart bookkeeping of one child, owned by its parent and touched only on the parent's turn.
/// The window starts at the first restart it counts and is reset when a restart falls outside it.
/// </summary>
internal sealed class RestartStatistics
{
    private int _restarts;
    private long _windowStart;
    private bool _windowOpen;

    /// <summary>Restarts counted in the current window.</summary>
    public int Restarts => _restarts;

    public bool RequestRestartPermission(int maxRetries, long windowNanoseconds, long now)
    {
        if (maxRetries == 0)
        {
            return false;
        }

        if (windowNanoseconds <= 0)
        {
            _restarts++;
            return maxRetries < 0 || _restarts <= maxRetries;
        }

        if (!_windowOpen || now - _windowStart > windowNanoseconds)
        {
            _windowOpen = true;
            _windowStart = now;
            _restarts = 1;
            return true;
        }

        _restarts++;
        return maxRetries < 0 || _restarts <= maxRetries;
    }
}
