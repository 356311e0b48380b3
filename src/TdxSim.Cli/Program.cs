using System.CommandLine;
using TdxSim.Machine;
using TdxSim.Machine.Scenarios;

namespace TdxSim.Cli;

/// <summary>
/// The <c>tdxsim</c> command line (contract sections 2, 4 and 5). stdout carries only what the guest sends on
/// COM1 (or the JSON a command was asked for); everything else goes to stderr. Bad usage or input exits 2 with
/// one line naming the problem, never a stack trace.
/// </summary>
public static class Program
{
    /// <summary>Entry point.</summary>
    public static int Main(string[] args) => Run(args, Console.OpenStandardOutput(), Console.Out, Console.Error);

    /// <summary>Runs the command line with explicit streams (tests use this).</summary>
    /// <param name="args">Arguments.</param>
    /// <param name="stdout">Raw stdout: COM1 bytes.</param>
    /// <param name="stdoutText">Text stdout (JSON, tables).</param>
    /// <param name="stderr">Diagnostics and summaries.</param>
    public static int Run(string[] args, Stream stdout, TextWriter stdoutText, TextWriter stderr)
    {
        ArgumentNullException.ThrowIfNull(args);
        RootCommand root = BuildCommands(stdout, stdoutText, stderr);
        ParseResult parse = root.Parse(args);
        if (parse.Errors.Count > 0)
        {
            stderr.WriteLine($"tdxsim: {MostUsefulError(parse, args)}");
            return ExitStatus.UsageError;
        }

        try
        {
            return parse.Invoke(new InvocationConfiguration { EnableDefaultExceptionHandler = false, Output = stderr, Error = stderr });
        }
        catch (UsageException e)
        {
            stderr.WriteLine($"tdxsim: {e.Message}");
            return ExitStatus.UsageError;
        }
        catch (ScenarioException e)
        {
            stderr.WriteLine($"tdxsim: {e.Message}");
            return ExitStatus.UsageError;
        }
        catch (Exception e) when (Environment.GetEnvironmentVariable("TDXSIM_DEBUG") is null)
        {
            stderr.WriteLine($"tdxsim: internal error: {e.GetType().Name}: {e.Message} (set TDXSIM_DEBUG=1 for the stack trace)");
            return ExitStatus.InternalError;
        }
    }

    /// <summary>
    /// One line for the user. System.CommandLine reports an unknown option's value ("Unrecognized ... '2'") before
    /// the option itself, so an unrecognized token that looks like an option is named first.
    /// </summary>
    private static string MostUsefulError(ParseResult parse, string[] args)
    {
        Command command = parse.CommandResult.Command;
        if (command is RootCommand && args.Length > 0 && !args[0].StartsWith('-'))
        {
            // Name the unknown command once, not an option of it as if it were an option of 'tdxsim'.
            return $"unknown command '{args[0]}' (commands: {CommandList(command)}; see tdxsim --help)";
        }

        foreach (string arg in args)
        {
            if (arg.Length > 1 && arg[0] == '-' && !IsKnownOption(command, arg))
            {
                return command is RootCommand
                    ? $"unknown option '{arg}' (see tdxsim --help)"
                    : $"{command.Name}: unknown option '{arg}' (see tdxsim {command.Name} --help)";
            }
        }

        return parse.Errors[0].Message;
    }

    private static string CommandList(Command root) => string.Join(", ", root.Subcommands.Select(c => c.Name));

    private static bool IsKnownOption(Command command, string token)
    {
        string name = token.Split('=', 2)[0];
        if (name is "--help" or "-h" or "-?" or "--version")
        {
            return true;
        }

        foreach (Option option in command.Options)
        {
            if (option.Name == name || option.Aliases.Contains(name))
            {
                return true;
            }
        }

        return false;
    }

    private static RootCommand BuildCommands(Stream stdout, TextWriter stdoutText, TextWriter stderr)
    {
        var root = new RootCommand("TdxSim: an actor-based, multi-vCPU emulator of Intel TDX guests");
        root.Subcommands.Add(RunCommand.Create(stdout, stderr));
        root.Subcommands.Add(StressCommand.Create(stdoutText, stderr));
        root.Subcommands.Add(InspectCommandLine.Create(stdoutText, stderr));
        root.Subcommands.Add(SweepCommand.Create(stdout, stderr));
        root.Subcommands.Add(SweepCommand.CreateWorker(stderr));
        root.SetAction(_ =>
        {
            stderr.WriteLine($"tdxsim: a command is required: {CommandList(root)} (see tdxsim --help)");
            return ExitStatus.UsageError;
        });
        return root;
    }
}

/// <summary>Bad usage found after parsing (a malformed number, a conflicting option).</summary>
public sealed class UsageException : Exception
{
    /// <summary>Creates the exception.</summary>
    public UsageException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception.</summary>
    public UsageException()
    {
    }

    /// <summary>Creates the exception.</summary>
    public UsageException(string message, Exception inner)
        : base(message, inner)
    {
    }
}
