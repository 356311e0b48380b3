namespace TdxSim.Cli;

/// <summary>The <c>tdxsim</c> command line (contract section 2). Being assembled.</summary>
public static class Program
{
    /// <summary>Entry point.</summary>
    public static int Main(string[] args)
    {
        Console.Error.WriteLine($"tdxsim: not yet wired ({args.Length} arguments)");
        return 2;
    }
}
