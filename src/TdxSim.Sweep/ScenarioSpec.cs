using TdxSim.Machine.Scenarios;

namespace TdxSim.Sweep;

/// <summary>
/// A scenario as the coordinator sends it to every worker: the built-in name, or the file's text with the folder its
/// relative paths (images, kernels) resolve against. A worker on another machine parses the same text, so only the
/// files the scenario names (not the scenario itself) must be present there, at the same absolute paths.
/// </summary>
/// <param name="Argument">What the user wrote (a path or a built-in name): used in the replay command.</param>
/// <param name="BuiltIn">The built-in scenario's name, or null for a file.</param>
/// <param name="Text">The file's YAML text, or null for a built-in scenario.</param>
/// <param name="BaseFolder">The absolute folder of the file, or null.</param>
public sealed record ScenarioSpec(string Argument, string? BuiltIn, string? Text, string? BaseFolder)
{
    /// <summary>Reads the scenario the user named: a file, or a built-in scenario by name.</summary>
    /// <exception cref="ScenarioException">No such file or built-in scenario, or the file is invalid.</exception>
    public static ScenarioSpec FromArgument(string argument)
    {
        ArgumentNullException.ThrowIfNull(argument);
        if (File.Exists(argument))
        {
            string text;
            try
            {
                text = File.ReadAllText(argument);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new ScenarioException($"{argument}: cannot read scenario: {e.Message}", e);
            }

            var spec = new ScenarioSpec(argument, null, text, Path.GetDirectoryName(Path.GetFullPath(argument)));
            _ = spec.Load();
            return spec;
        }

        if (!argument.Contains('/', StringComparison.Ordinal) && !argument.Contains('.', StringComparison.Ordinal)
            && ScenarioLoader.EmbeddedNames().Contains(argument))
        {
            return new ScenarioSpec(argument, argument, null, null);
        }

        throw new ScenarioException($"{argument}: no such scenario file (built-in scenarios: {string.Join(", ", ScenarioLoader.EmbeddedNames())})");
    }

    /// <summary>Parses the scenario, as <c>tdxsim run</c> would load it.</summary>
    /// <exception cref="ScenarioException">The text is invalid.</exception>
    public Scenario Load() => BuiltIn is { } name
        ? ScenarioLoader.LoadEmbedded(name)
        : ScenarioLoader.Parse(Text ?? string.Empty, Argument, BaseFolder, Path.GetFileNameWithoutExtension(Argument));
}
