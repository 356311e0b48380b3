namespace TdxSim.Cpu.Tests.Loaders;

/// <summary>
/// Finds the shared anchor binaries: <c>shared/anchors/bin</c> beside the repository checkout (as on
/// developer machines and in CI), found by walking up from the test assembly to the folder holding
/// Actors.sln.
/// </summary>
internal static class AnchorFiles
{
    public static string Path(string name)
    {
        for (DirectoryInfo? dir = new(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(System.IO.Path.Combine(dir.FullName, "Actors.sln")))
            {
                string candidate = System.IO.Path.Combine(dir.FullName, "..", "shared", "anchors", "bin", name);
                Assert.True(File.Exists(candidate), $"anchor {name} not found at {candidate}: shared/ must sit beside the checkout");
                return System.IO.Path.GetFullPath(candidate);
            }
        }

        Assert.Fail($"cannot find the repository root (Actors.sln) above {AppContext.BaseDirectory}");
        return string.Empty;
    }
}
