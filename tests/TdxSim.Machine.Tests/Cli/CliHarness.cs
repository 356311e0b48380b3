using System.Text;
using Iced.Intel;
using TdxSim.Images;

namespace TdxSim.Machine.Tests.Cli;

/// <summary>What one in-process <c>tdxsim</c> invocation left on its three streams.</summary>
internal sealed record CliResult(int Status, byte[] Stdout, string StdoutText, string Stderr)
{
    /// <summary>stdout's raw bytes as ASCII (the COM1 bytes of a run).</summary>
    public string Com1 => Encoding.ASCII.GetString(Stdout);

    /// <summary>stderr's lines, without the empty last one.</summary>
    public string[] StderrLines => Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries);

    /// <summary>
    /// Bad input (contract section 2): status 2, nothing on stdout, exactly one stderr line naming the problem and
    /// no stack trace.
    /// </summary>
    public void AssertUsageError(params string[] mentions)
    {
        Assert.True(Status == 2, $"expected status 2, got {Status}; stderr: {Stderr}");
        Assert.Empty(Stdout);
        Assert.Equal(string.Empty, StdoutText);
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

/// <summary>Runs <c>tdxsim</c> in-process with captured streams, and makes scratch files for it.</summary>
internal sealed class CliHarness : IDisposable
{
    private readonly DirectoryInfo _folder = Directory.CreateTempSubdirectory("tdxsim-cli-");

    /// <summary>The scratch folder.</summary>
    public string Folder => _folder.FullName;

    /// <summary>Runs <c>tdxsim</c> with <paramref name="args"/>.</summary>
    public static CliResult Run(params string[] args)
    {
        using var stdout = new MemoryStream();
        using var stdoutText = new StringWriter();
        using var stderr = new StringWriter();
        int status = TdxSim.Cli.Program.Run(args, stdout, stdoutText, stderr);
        return new CliResult(status, stdout.ToArray(), stdoutText.ToString(), stderr.ToString().Replace("\r\n", "\n", StringComparison.Ordinal));
    }

    /// <summary>Writes a file in the scratch folder and returns its path.</summary>
    public string File(string name, string text)
    {
        string path = Path.Combine(Folder, name);
        System.IO.File.WriteAllText(path, text);
        return path;
    }

    /// <summary>Writes a file in the scratch folder and returns its path.</summary>
    public string File(string name, byte[] bytes)
    {
        string path = Path.Combine(Folder, name);
        System.IO.File.WriteAllBytes(path, bytes);
        return path;
    }

    /// <summary>Assembles a flat image for the default load address 0x100000 and writes it.</summary>
    public string FlatImage(string name, Action<Assembler> emit) => File(name, GuestProgram.Assemble(0x10_0000, emit).Code);

    public void Dispose()
    {
        try
        {
            _folder.Delete(recursive: true);
        }
        catch (IOException)
        {
            // A scratch folder left behind in /tmp is harmless.
        }
    }
}
