namespace TdxSim.Cpu.Tests.Loaders;

/// <summary>
/// Finds the crc32 anchor binaries: <c>$TDXSIM_SHARED/anchors/bin</c> if set, else <c>shared/anchors/bin</c> beside
/// the repository checkout (as on developer machines), else the copies in <c>tests/fixtures/anchors</c> (a clone
/// without shared/). The repository root is the first ancestor of the test assembly that holds Actors.sln.
/// </summary>
internal static class AnchorFiles
{
    public static string Path(string name)
    {
        string? shared = Environment.GetEnvironmentVariable("TDXSIM_SHARED");
        if (shared is not null && File.Exists(System.IO.Path.Combine(shared, "anchors", "bin", name)))
        {
            return System.IO.Path.GetFullPath(System.IO.Path.Combine(shared, "anchors", "bin", name));
        }

        for (DirectoryInfo? dir = new(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(System.IO.Path.Combine(dir.FullName, "Actors.sln")))
            {
                string beside = System.IO.Path.Combine(dir.FullName, "..", "shared", "anchors", "bin", name);
                string fixture = System.IO.Path.Combine(dir.FullName, "tests", "fixtures", "anchors", name);
                string candidate = File.Exists(beside) ? beside : fixture;
                Assert.True(File.Exists(candidate), $"anchor {name} found neither at {beside} nor at {fixture}");
                return System.IO.Path.GetFullPath(candidate);
            }
        }

        Assert.Fail($"cannot find the repository root (Actors.sln) above {AppContext.BaseDirectory}");
        return string.Empty;
    }
}
