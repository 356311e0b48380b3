using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;

namespace TdxSim.Sweep.Tests;

/// <summary>What one <c>tdxsim</c> invocation left: its status and streams.</summary>
internal sealed record Outcome(int Status, string Stdout, string Stderr)
{
    public string[] StderrLines => Stderr.Replace("\r\n", "\n", StringComparison.Ordinal).Split('\n', StringSplitOptions.RemoveEmptyEntries);

    /// <summary>Bad input: status 2, nothing on stdout, one stderr line naming the problem, no stack trace.</summary>
    public void AssertUsageError(params string[] mentions)
    {
        Assert.True(Status == 2, $"expected status 2, got {Status}; stderr: {Stderr}");
        Assert.Equal(string.Empty, Stdout);
        string line = Assert.Single(StderrLines);
        Assert.StartsWith("tdxsim: ", line, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", Stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("Exception", Stderr, StringComparison.Ordinal);
        foreach (string mention in mentions)
        {
            Assert.Contains(mention, line, StringComparison.Ordinal);
        }
    }
}

/// <summary>Runs <c>tdxsim</c> in this process or as a child process; finds free ports and the repository.</summary>
internal static class Tdxsim
{
    /// <summary>The repository's root (where Actors.sln is).</summary>
    public static string Root { get; } = FindRoot();

    /// <summary>configs/smp-hello.yaml, relative to <see cref="Root"/> (processes run there).</summary>
    public const string SmpHello = "configs/smp-hello.yaml";

    public static Outcome InProcess(params string[] args)
    {
        using var stdout = new MemoryStream();
        using var stdoutText = new StringWriter();
        using var stderr = new StringWriter();
        int status = TdxSim.Cli.Program.Run(args, stdout, stdoutText, stderr);
        return new Outcome(status, Encoding.UTF8.GetString(stdout.ToArray()) + stdoutText, stderr.ToString());
    }

    /// <summary>Starts <c>dotnet tdxsim.dll ARGS</c> in the repository's root, streams redirected.</summary>
    public static Process Start(IReadOnlyDictionary<string, string>? environment, params string[] args)
    {
        var start = new ProcessStartInfo("dotnet")
        {
            WorkingDirectory = Root,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "tdxsim.dll"));
        foreach (string a in args)
        {
            start.ArgumentList.Add(a);
        }

        foreach ((string key, string value) in environment ?? new Dictionary<string, string>())
        {
            start.Environment[key] = value;
        }

        return Process.Start(start) ?? throw new InvalidOperationException("cannot start dotnet");
    }

    /// <summary>A child process with its streams collected as they come.</summary>
    public static Child Spawn(IReadOnlyDictionary<string, string>? environment, params string[] args) => new(Start(environment, args));

    /// <summary>A TCP port nobody listens on now.</summary>
    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <summary>The runs of a <c>--out</c> file or of <c>--json</c>'s <c>runs</c>, by (seed, vcpus).</summary>
    public static List<JsonElement> Lines(string path)
        => [.. File.ReadAllLines(path).Where(l => l.Length > 0).Select(l => JsonDocument.Parse(l).RootElement.Clone())];

    public static (ulong Seed, int Vcpus) Key(JsonElement run) => (run.GetProperty("seed").GetUInt64(), run.GetProperty("vcpus").GetInt32());

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Actors.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException("Actors.sln not found above the test's folder");
    }
}

/// <summary>A running <c>tdxsim</c> process whose stdout and stderr are read as they come.</summary>
internal sealed class Child : IDisposable
{
    private readonly StringBuilder _out = new();
    private readonly StringBuilder _err = new();

    public Child(Process process)
    {
        Process = process;
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) { lock (_out) { _out.AppendLine(e.Data); } } };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) { lock (_err) { _err.AppendLine(e.Data); } } };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
    }

    public Process Process { get; }

    public string Stderr { get { lock (_err) { return _err.ToString(); } } }

    public string Stdout { get { lock (_out) { return _out.ToString(); } } }

    /// <summary>Waits for the exit; kills the process and fails if it takes longer than <paramref name="timeout"/>.</summary>
    public Outcome Wait(TimeSpan timeout)
    {
        if (!Process.WaitForExit(timeout))
        {
            Process.Kill(entireProcessTree: true);
            Assert.Fail($"tdxsim did not exit within {timeout.TotalSeconds} s; stderr: {Stderr}");
        }

        Process.WaitForExit();
        return new Outcome(Process.ExitCode, Stdout, Stderr);
    }

    public void Dispose()
    {
        if (!Process.HasExited)
        {
            Process.Kill(entireProcessTree: true);
            Process.WaitForExit(5000);
        }

        Process.Dispose();
    }
}
