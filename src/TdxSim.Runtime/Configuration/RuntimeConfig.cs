using System.Globalization;
using Akka.Actor;
using Akka.Configuration;
using TdxSim.Runtime.Deterministic;

namespace TdxSim.Runtime.Configuration;

/// <summary>A user's Akka configuration that cannot be used: one line, exit status 2.</summary>
public sealed class RuntimeConfigException : Exception
{
    /// <summary>Creates the exception.</summary>
    public RuntimeConfigException(string message, Exception? inner = null)
        : base(message, inner)
    {
    }

    /// <summary>Creates the exception.</summary>
    public RuntimeConfigException()
    {
    }

    /// <summary>Creates the exception.</summary>
    public RuntimeConfigException(string message)
        : base(message)
    {
    }
}

/// <summary>
/// The one place TdxSim's Akka configuration comes from: the embedded default (<c>tdxsim.conf</c>), a user's override,
/// and the keys of the run's mode laid over both.
/// </summary>
public static class RuntimeConfig
{
    private static readonly Lazy<string> DefaultText = new(() =>
    {
        using Stream stream = typeof(RuntimeConfig).Assembly.GetManifestResourceStream("TdxSim.Runtime.tdxsim.conf")
            ?? throw new InvalidOperationException("the embedded tdxsim.conf is missing from TdxSim.Runtime");
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    });

    /// <summary>The embedded default configuration, as text.</summary>
    public static string DefaultHocon => DefaultText.Value;

    /// <summary>The embedded default configuration.</summary>
    public static Config Default => ConfigurationFactory.ParseString(DefaultHocon);

    /// <summary>Parses a user's HOCON, naming <paramref name="source"/> in the error.</summary>
    /// <exception cref="RuntimeConfigException">The text is not valid HOCON.</exception>
    public static Config ParseUser(string hocon, string source)
    {
        ArgumentNullException.ThrowIfNull(hocon);
        if (HoconCheck.Structure(hocon) is { } problem)
        {
            throw new RuntimeConfigException($"{source}: not valid HOCON: {problem}");
        }

        Config config;
        try
        {
            config = ConfigurationFactory.ParseString(hocon);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            string first = e.Message.Split('\n', 2)[0].Trim();
            throw new RuntimeConfigException($"{source}: not valid HOCON: {first}", e);
        }

        return HoconCheck.EmptyKey(config) is { } key
            ? throw new RuntimeConfigException($"{source}: not valid HOCON: '{key}' has no value")
            : config;
    }

    /// <summary>Reads and parses a user's HOCON file.</summary>
    /// <exception cref="RuntimeConfigException">The file cannot be read or is not valid HOCON.</exception>
    public static Config ParseUserFile(string path)
    {
        string text;
        try
        {
            text = File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            throw new RuntimeConfigException($"{path}: cannot read the Akka configuration ({e.Message})", e);
        }

        return ParseUser(text, path);
    }

    /// <summary>The configuration of one run.</summary>
    /// <param name="deterministic">One thread, seeded scheduling, virtual time.</param>
    /// <param name="seed">The schedule's seed (deterministic runs).</param>
    /// <param name="user">The user's override, or null.</param>
    public static Config Build(bool deterministic, ulong seed, Config? user = null)
    {
        Config config = Default;
        if (user is not null)
        {
            config = user.WithFallback(config);
        }

        if (deterministic)
        {
            Config mode = ConfigurationFactory.ParseString(string.Create(CultureInfo.InvariantCulture, $$"""
                akka.scheduler.implementation = "{{typeof(VirtualTimeScheduler).FullName}}, TdxSim.Runtime"
                tdxsim.dispatcher-id = "tdxsim.deterministic-dispatcher"
                tdxsim.deterministic-dispatcher.throughput = 1
                tdxsim.deterministic-dispatcher.seed = {{(long)seed}}
                """));
            config = mode.WithFallback(config);
        }

        return config;
    }

    /// <summary>Creates an actor system on <paramref name="config"/> with the <see cref="TdxRuntime"/> extension ready.</summary>
    /// <exception cref="RuntimeConfigException">Akka refused the configuration (a user's override naming an unknown dispatcher type, ...).</exception>
    public static ActorSystem CreateSystem(string name, Config config)
    {
        ActorSystem system;
        try
        {
            system = ActorSystem.Create(name, config);
        }
        catch (Exception e) when (Refusal(e) is { } cause)
        {
            throw new RuntimeConfigException($"the Akka configuration was refused: {cause.Message.Split('\n', 2)[0].Trim()}", e);
        }

        TdxRuntime runtime;
        try
        {
            // The extension looks up the TD's dispatcher, which makes Akka build it and its executor: an override they
            // refuse (a bad executor key) is an input error here, before the run, not an emulator failure in it.
            runtime = TdxRuntime.Get(system);
        }
        catch (Exception e) when (Refusal(e) is { } cause)
        {
            system.Terminate().Wait(TimeSpan.FromSeconds(5));
            throw new RuntimeConfigException($"the Akka configuration was refused: {cause.Message.Split('\n', 2)[0].Trim()}", e);
        }

        if (runtime.DispatcherId is { } id && !system.Dispatchers.HasDispatcher(id))
        {
            system.Terminate().Wait(TimeSpan.FromSeconds(5));
            throw new RuntimeConfigException($"tdxsim.dispatcher-id names '{id}', which is not a dispatcher in the Akka configuration");
        }

        return system;
    }

    /// <summary>
    /// The configuration problem behind an exception Akka threw while building from a configuration (unwrapping the
    /// reflection that constructs configured types), or null when it is not one.
    /// </summary>
    private static Exception? Refusal(Exception e)
    {
        while (e is System.Reflection.TargetInvocationException { InnerException: { } inner })
        {
            e = inner;
        }

        return e is ConfigurationException or ArgumentException or TypeLoadException or InvalidOperationException or MissingMethodException
            ? e
            : null;
    }
}
