using System.Diagnostics;

namespace TdxSim.Machine.Tests.Linux;

/// <summary>
/// Debian's TDX guest kernel (bookworm-security linux-image-6.12.107+deb12-cloud-amd64-unsigned), fetched and cached by
/// scripts/fetch-debian-kernel.sh on first use (apt-get download, or Debian's security mirror).
/// </summary>
internal static class DebianKernel
{
    private static readonly Lazy<string> Path_ = new(Fetch, LazyThreadSafetyMode.ExecutionAndPublication);

    /// <summary>Path of the cached bzImage.</summary>
    public static string Path => Path_.Value;

    /// <summary>The repository root (the folder holding Actors.sln).</summary>
    public static string RepositoryRoot()
    {
        for (DirectoryInfo? d = new(AppContext.BaseDirectory); d is not null; d = d.Parent)
        {
            if (File.Exists(System.IO.Path.Combine(d.FullName, "Actors.sln")))
            {
                return d.FullName;
            }
        }

        throw new InvalidOperationException($"no Actors.sln above {AppContext.BaseDirectory}");
    }

    private static string Fetch()
    {
        string script = System.IO.Path.Combine(RepositoryRoot(), "scripts", "fetch-debian-kernel.sh");
        var start = new ProcessStartInfo("/bin/sh", [script])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        using Process p = Process.Start(start) ?? throw new InvalidOperationException("cannot start /bin/sh");
        Task<string> stderr = p.StandardError.ReadToEndAsync();
        string stdout = p.StandardOutput.ReadToEnd();
        if (!p.WaitForExit(TimeSpan.FromMinutes(10)))
        {
            p.Kill(entireProcessTree: true);
            throw new InvalidOperationException($"{script} did not finish in 10 minutes");
        }

        string path = stdout.Trim();
        if (p.ExitCode != 0 || !File.Exists(path))
        {
            throw new InvalidOperationException($"{script} failed (status {p.ExitCode}): {stderr.Result}");
        }

        return path;
    }
}
