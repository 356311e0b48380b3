using System.Diagnostics;
using System.Security.Cryptography;
using TdxSim.Machine;
using TdxSim.Machine.Logging;
using TdxSim.Machine.Scenarios;

namespace TdxSim.Sweep;

/// <summary>
/// Runs one (seed, vCPU count) of a scenario in this process, deterministically, and hashes what
/// <c>tdxsim run SCENARIO --vcpus N --deterministic --seed S --log L --dump-state D</c> would write to L and D: the
/// same sink and the same final-state writer, on a stream that feeds SHA-256 instead of a file. COM1 goes nowhere.
/// </summary>
public static class RunExecutor
{
    /// <summary>Runs <paramref name="key"/> of <paramref name="scenario"/> on the calling thread.</summary>
    /// <param name="scenario">The scenario as loaded (its seed, vCPUs and output paths are replaced).</param>
    /// <param name="key">The seed and vCPU count.</param>
    /// <param name="worker">The name of this node, kept in the result.</param>
    public static RunResult Execute(Scenario scenario, RunKey key, string worker)
    {
        ArgumentNullException.ThrowIfNull(scenario);
        Scenario run = scenario with
        {
            Seed = key.Seed,
            Vcpus = key.Vcpus,
            Deterministic = true,
            LogPath = null,
            TracePath = null,
            DumpStatePath = null,
            Quiet = true,
        };

        var wall = Stopwatch.StartNew();
        using var logHash = new HashingStream();
        var recorder = new MessageRecorder([new JsonLinesLogSink(logHash, "log hash")], new MessageRecorderOptions { ServiceTimes = true });
        MachineResult result;
        try
        {
            result = TdMachine.Run(run, new MachineIo(Stream.Null, [recorder]));
        }
        catch (ScenarioException e)
        {
            recorder.Complete();
            return Failed(key, ExitStatus.UsageError, "scenario-error", e.Message, wall, worker);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            recorder.Complete();
            return Failed(key, ExitStatus.InternalError, "internal-error", $"{e.GetType().Name}: {e.Message}", wall, worker);
        }

        MessageLogReport report = recorder.Complete();
        using var stateHash = new HashingStream();
        DumpState.Write(result, stateHash);
        wall.Stop();
        if (!report.IsLossless)
        {
            return Failed(key, ExitStatus.InternalError, "internal-error", $"message log incomplete: {report}", wall, worker);
        }

        return new RunResult(key.Seed, key.Vcpus, result.ExitStatus, result.Reason, result.Detail, result.TotalInstructions,
            result.VirtualNanoseconds, logHash.HexDigest(), stateHash.HexDigest(), wall.Elapsed.TotalMilliseconds, worker);
    }

    private static RunResult Failed(RunKey key, int status, string reason, string detail, Stopwatch wall, string worker)
        => new(key.Seed, key.Vcpus, status, reason, detail, 0, 0, string.Empty, string.Empty, wall.Elapsed.TotalMilliseconds, worker);
}

/// <summary>A write-only stream that hashes what is written to it (SHA-256).</summary>
public sealed class HashingStream : Stream
{
    private readonly IncrementalHash _hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
    private long _length;

    /// <inheritdoc/>
    public override bool CanRead => false;

    /// <inheritdoc/>
    public override bool CanSeek => false;

    /// <inheritdoc/>
    public override bool CanWrite => true;

    /// <inheritdoc/>
    public override long Length => _length;

    /// <inheritdoc/>
    public override long Position
    {
        get => _length;
        set => throw new NotSupportedException();
    }

    /// <summary>The lower-case hex SHA-256 of everything written so far.</summary>
    public string HexDigest() => Convert.ToHexStringLower(_hash.GetCurrentHash());

    /// <inheritdoc/>
    public override void Flush()
    {
    }

    /// <inheritdoc/>
    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    /// <inheritdoc/>
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    /// <inheritdoc/>
    public override void SetLength(long value) => throw new NotSupportedException();

    /// <inheritdoc/>
    public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

    /// <inheritdoc/>
    public override void Write(ReadOnlySpan<byte> buffer)
    {
        _hash.AppendData(buffer);
        _length += buffer.Length;
    }

    /// <inheritdoc/>
    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _hash.Dispose();
        }

        base.Dispose(disposing);
    }
}
