using System.Reflection;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace TdxSim.Machine.Scenarios;

/// <summary>
/// Reads a scenario from YAML, validating every key and value. Errors name the file and line:
/// <c>configs/x.yaml:7: unknown key 'vcpu' (known: vcpus, ...)</c>. Relative image paths resolve
/// against the scenario file's folder.
/// </summary>
public static class ScenarioLoader
{
    /// <summary>Name of the default scenario, embedded in the program.</summary>
    public const string DefaultScenarioName = "smp-hello";

    private static readonly string[] TopLevelKeys =
    [
        "name", "description", "guest", "image", "kernel", "append", "initrd", "load", "entry", "vcpus", "memory", "accept",
        "unroll_string_io", "max_instructions", "time_limit_ms", "reply_timeout_ms", "seed", "deterministic", "vmm", "module",
        "td_attributes", "vmm_settings", "hostile_vmm", "log", "trace", "dump_state", "quiet", "akka", "cost_model",
    ];

    private static readonly string[] VmmKeys =
        ["map_gpa_retry", "on_fatal_error", "hlt_wake_ns", "msr_default", "msrs", "quote_delay_ns"];

    private static readonly string[] MsrKeys = ["index", "access", "value"];

    private static readonly string[] HostileKeys = ["seed", "faults", "rate"];

    /// <summary>Loads a scenario file.</summary>
    /// <exception cref="ScenarioException">The file is missing, unreadable or invalid.</exception>
    public static Scenario LoadFile(string path)
    {
        string text;
        try
        {
            text = File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            throw new ScenarioException($"{path}: cannot read scenario: {e.Message}", e);
        }

        string? folder = Path.GetDirectoryName(Path.GetFullPath(path));
        return Parse(text, path, folder, Path.GetFileNameWithoutExtension(path));
    }

    /// <summary>The names of the scenarios embedded in the program.</summary>
    public static IReadOnlyList<string> EmbeddedNames()
    {
        var names = new List<string>();
        foreach (string resource in typeof(ScenarioLoader).Assembly.GetManifestResourceNames())
        {
            if (resource.StartsWith("configs/", StringComparison.Ordinal) && resource.EndsWith(".yaml", StringComparison.Ordinal))
            {
                names.Add(resource["configs/".Length..^".yaml".Length]);
            }
        }

        names.Sort(StringComparer.Ordinal);
        return names;
    }

    /// <summary>Loads a scenario embedded in the program (the <c>configs/</c> gallery).</summary>
    public static Scenario LoadEmbedded(string name)
    {
        Assembly assembly = typeof(ScenarioLoader).Assembly;
        using Stream? stream = assembly.GetManifestResourceStream($"configs/{name}.yaml")
            ?? throw new ScenarioException($"no built-in scenario named '{name}' (known: {string.Join(", ", EmbeddedNames())})");
        using var reader = new StreamReader(stream);
        return Parse(reader.ReadToEnd(), $"configs/{name}.yaml", null, name);
    }

    /// <summary>Parses scenario text; <paramref name="source"/> names it in errors.</summary>
    public static Scenario Parse(string text, string source, string? baseFolder = null, string? defaultName = null)
    {
        ArgumentNullException.ThrowIfNull(text);
        var stream = new YamlStream();
        try
        {
            stream.Load(new StringReader(text));
        }
        catch (YamlException e)
        {
            throw new ScenarioException($"{source}:{e.Start.Line}: invalid YAML: {OneLine(FirstLine(e.Message))}", e);
        }
        catch (InvalidOperationException e)
        {
            // YamlDotNet's scanner gives up on some malformed plain scalars inside flow collections with a bare
            // InvalidOperationException and no position (found by fuzzing): name the line where parsing stopped.
            throw new ScenarioException($"{source}:{LastParsedLine(text)}: invalid YAML: a plain scalar or flow collection the parser cannot read", e);
        }

        // Later documents would otherwise be ignored without a word: a scenario is one document.
        if (stream.Documents.Skip(1).FirstOrDefault(d => d.RootNode is not YamlScalarNode { Value: null or "" }) is { } extra)
        {
            throw Error(source, extra.RootNode, "a second YAML document ('---'): a scenario file holds one document");
        }

        var scenario = new Scenario { Name = defaultName ?? "unnamed" };
        if (stream.Documents.Count == 0 || stream.Documents[0].RootNode is YamlScalarNode { Value: null or "" })
        {
            return scenario;
        }

        if (stream.Documents[0].RootNode is not YamlMappingNode root)
        {
            throw Error(source, stream.Documents[0].RootNode, "a scenario must be a mapping of keys to values");
        }

        // An application tag ('!foo 2') would otherwise be dropped without a word: only YAML's own tags are read.
        if (root.AllNodes.FirstOrDefault(n => !n.Tag.IsEmpty && !n.Tag.Value.StartsWith("tag:yaml.org,2002:", StringComparison.Ordinal)) is { } tagged)
        {
            throw Error(source, tagged, $"unsupported YAML tag '{tagged.Tag.Value}'");
        }

        var reader = new NodeReader(source);
        foreach ((YamlNode keyNode, YamlNode value) in root.Children)
        {
            string key = reader.Key(keyNode, TopLevelKeys);
            scenario = key switch
            {
                "name" => scenario with { Name = reader.String(value) },
                "description" => scenario with { Description = reader.String(value) },
                "guest" => scenario with { Guest = ParseGuest(reader, value, baseFolder) },
                "image" => scenario with { Guest = GuestSource.FromImage(reader.Path(value, baseFolder)) },
                "kernel" => scenario with { Guest = GuestSource.FromKernel(reader.Path(value, baseFolder)) },
                "append" => scenario with { Append = reader.String(value) },
                "initrd" => scenario with { InitrdPath = reader.Path(value, baseFolder) },
                "load" => scenario with { Load = reader.Number(value) },
                "entry" => scenario with { Entry = reader.Number(value) },
                "vcpus" => scenario with { Vcpus = reader.Vcpus(value) },
                "memory" => scenario with { Memory = reader.MemorySize(value) },
                "accept" => scenario with { LazyAccept = reader.Choice(value, "eager", "lazy") == "lazy" },
                "unroll_string_io" => scenario with { UnrollStringIo = reader.Bool(value) },
                "max_instructions" => scenario with { MaxInstructions = reader.Positive(value) },
                "time_limit_ms" => scenario with { TimeLimitMs = reader.Positive(value) },
                "reply_timeout_ms" => scenario with { ReplyTimeoutMs = reader.Number(value) },
                "seed" => scenario with { Seed = reader.Number(value) },
                "deterministic" => scenario with { Deterministic = reader.Bool(value) },
                "vmm" => scenario with { Vmm = reader.Choice(value, "single", "per-vcpu") == "single" ? VmmTopology.Single : VmmTopology.PerVcpu },
                "module" => scenario with { Module = reader.Choice(value, "single", "per-vcpu") == "single" ? ModuleTopology.Single : ModuleTopology.PerVcpu },
                "td_attributes" => scenario with { TdAttributes = reader.Attributes(value) },
                "vmm_settings" => scenario with { VmmSettings = ParseVmm(reader, value) },
                "hostile_vmm" => scenario with { HostileVmm = ParseHostile(reader, value) },
                "log" => scenario with { LogPath = reader.Path(value, baseFolder) },
                "trace" => scenario with { TracePath = reader.Path(value, baseFolder) },
                "dump_state" => scenario with { DumpStatePath = reader.Path(value, baseFolder) },
                "quiet" => scenario with { Quiet = reader.Bool(value) },
                "akka" => scenario with { AkkaConfig = ParseAkka(reader, source, value) },
                "cost_model" => scenario with { Costs = ParseCosts(reader, value) },
                _ => throw new InvalidOperationException(key),
            };
        }

        return scenario;
    }

    /// <summary>The <c>akka</c> key: HOCON text laid over TdxSim's default Akka configuration.</summary>
    private static Akka.Configuration.Config ParseAkka(NodeReader reader, string source, YamlNode value)
    {
        try
        {
            return Runtime.Configuration.RuntimeConfig.ParseUser(reader.String(value), "akka");
        }
        catch (Runtime.Configuration.RuntimeConfigException e)
        {
            throw Error(source, value, e.Message);
        }
    }

    /// <summary>The <c>cost_model</c> key: virtual-time costs, scalars and per-name mappings.</summary>
    private static CostModelSettings ParseCosts(NodeReader reader, YamlNode node)
    {
        if (node is not YamlMappingNode map)
        {
            throw reader.Fail(node, "cost_model must be a mapping of cost keys to nanoseconds");
        }

        var costs = new CostModelSettings();
        string[] keys = [.. CostModelSettings.ScalarKeys, .. CostModelSettings.MapKeys];
        foreach ((YamlNode keyNode, YamlNode value) in map.Children)
        {
            string key = reader.Key(keyNode, keys);
            if (CostModelSettings.MapKeys.Contains(key))
            {
                if (value is not YamlMappingNode names)
                {
                    throw reader.Fail(value, $"{key} must be a mapping of names to nanoseconds");
                }

                foreach ((YamlNode nameNode, YamlNode cost) in names.Children)
                {
                    string name = nameNode is YamlScalarNode { Value: { } n } ? n : throw reader.Fail(nameNode, "names must be plain strings");
                    costs = costs.With(key, name, reader.Scalar(cost), out CostSettingError? problem)
                        ?? throw reader.Fail(problem!.Problem == CostSettingProblem.UnknownName ? nameNode : cost, problem.Message);
                }
            }
            else
            {
                costs = costs.With(key, null, reader.Scalar(value), out CostSettingError? problem) ?? throw reader.Fail(value, problem!.Message);
            }
        }

        return costs;
    }

    private static GuestSource ParseGuest(NodeReader reader, YamlNode value, string? baseFolder)
    {
        string guest = reader.String(value);
        return guest.StartsWith("builtin:", StringComparison.Ordinal)
            ? GuestSource.FromBuiltIn(guest["builtin:".Length..])
            : GuestSource.FromImage(reader.Path(value, baseFolder));
    }

    private static VmmSettings ParseVmm(NodeReader reader, YamlNode node)
    {
        if (node is not YamlMappingNode map)
        {
            throw reader.Fail(node, "vmm_settings must be a mapping");
        }

        var settings = new VmmSettings();
        foreach ((YamlNode keyNode, YamlNode value) in map.Children)
        {
            string key = reader.Key(keyNode, VmmKeys);
            settings = key switch
            {
                "map_gpa_retry" => settings with { MapGpaRetry = reader.Bool(value) },
                "on_fatal_error" => settings with
                {
                    OnFatalError = reader.Choice(value, "stop", "resume") == "stop" ? FatalErrorPolicy.Stop : FatalErrorPolicy.Resume,
                },
                "hlt_wake_ns" => settings with { HltWakeNs = reader.Number(value) },
                "msr_default" => settings with { MsrDefaultDeny = reader.Choice(value, "allow", "deny") == "deny" },
                "msrs" => settings with { Msrs = ParseMsrs(reader, value) },
                "quote_delay_ns" => settings with { QuoteDelayNs = reader.Number(value) },
                _ => throw new InvalidOperationException(key),
            };
        }

        return settings;
    }

    /// <summary>
    /// <c>hostile_vmm: {seed, faults: [...], rate}</c> (contract section 10), or <c>hostile_vmm: SEED</c>. Every key is
    /// optional: the seed defaults to the run's seed, the faults to every kind, the rate to
    /// <see cref="Abi.Faults.HostileVmmPlan.DefaultRate"/>.
    /// </summary>
    private static HostileVmmSettings ParseHostile(NodeReader reader, YamlNode node)
    {
        HostileVmmSettings settings = HostileVmmSettings.Default;
        if (node is YamlScalarNode)
        {
            return settings with { Seed = reader.Number(node) };
        }

        if (node is not YamlMappingNode map)
        {
            throw reader.Fail(node, "hostile_vmm must be a seed or a mapping {seed, faults, rate}");
        }

        foreach ((YamlNode keyNode, YamlNode value) in map.Children)
        {
            switch (reader.Key(keyNode, HostileKeys))
            {
                case "seed":
                    settings = settings with { Seed = reader.Number(value) };
                    break;
                case "rate":
                {
                    string text = reader.String(value);
                    if (!double.TryParse(text, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out double rate)
                        || !(rate >= 0 && rate <= 1))
                    {
                        throw reader.Fail(value, $"rate must be a number from 0 to 1, not '{text}'");
                    }

                    settings = settings with { Rate = rate };
                    break;
                }

                default:
                {
                    if (value is not YamlSequenceNode seq)
                    {
                        throw reader.Fail(value, $"faults must be a list of fault kinds ({Abi.Faults.HostFaultNames.Known})");
                    }

                    Abi.Faults.HostFaultSet kinds = Abi.Faults.HostFaultSet.None;
                    foreach (YamlNode item in seq.Children)
                    {
                        string name = reader.String(item);
                        kinds |= Abi.Faults.HostFaultNames.TryParse(name, out Abi.Faults.HostFaultSet kind)
                            ? kind
                            : throw reader.Fail(item, $"unknown fault kind '{name}' (known: {Abi.Faults.HostFaultNames.Known})");
                    }

                    settings = settings with { Faults = kinds };
                    break;
                }
            }
        }

        return settings;
    }

    private static List<MsrRule> ParseMsrs(NodeReader reader, YamlNode node)
    {
        if (node is not YamlSequenceNode seq)
        {
            throw reader.Fail(node, "msrs must be a list of {index, access, value}");
        }

        var rules = new List<MsrRule>();
        foreach (YamlNode item in seq.Children)
        {
            if (item is not YamlMappingNode map)
            {
                throw reader.Fail(item, "each msrs entry must be a mapping {index, access, value}");
            }

            uint? index = null;
            MsrAccess access = MsrAccess.ReadWrite;
            ulong value = 0;
            foreach ((YamlNode keyNode, YamlNode v) in map.Children)
            {
                switch (reader.Key(keyNode, MsrKeys))
                {
                    case "index":
                        ulong n = reader.Number(v);
                        index = n <= uint.MaxValue ? (uint)n : throw reader.Fail(v, $"MSR index 0x{n:x} does not fit in 32 bits");
                        break;
                    case "access":
                        access = reader.Choice(v, "rw", "ro", "wo") switch
                        {
                            "ro" => MsrAccess.ReadOnly,
                            "wo" => MsrAccess.WriteOnly,
                            _ => MsrAccess.ReadWrite,
                        };
                        break;
                    default:
                        value = reader.Number(v);
                        break;
                }
            }

            rules.Add(new MsrRule(index ?? throw reader.Fail(item, "msrs entry needs an index"), access, value));
        }

        return rules;
    }

    /// <summary>The line after which YAML parsing of <paramref name="text"/> fails (1 when it fails at once).</summary>
    private static long LastParsedLine(string text)
    {
        long line = 1;
        var parser = new Parser(new StringReader(text));
        try
        {
            while (parser.MoveNext())
            {
                line = parser.Current?.End.Line ?? line;
            }
        }
        catch (Exception e) when (e is YamlException or InvalidOperationException)
        {
            // Where it stopped is what we wanted.
        }

        return line;
    }

    private static string FirstLine(string message)
    {
        int nl = message.IndexOf('\n', StringComparison.Ordinal);
        return nl < 0 ? message : message[..nl];
    }

    /// <summary>
    /// An error naming the file and line. The message is kept to one line: a value it quotes (a block scalar, a
    /// quoted string) may hold line breaks or control characters, which are shown escaped.
    /// </summary>
    private static ScenarioException Error(string source, YamlNode node, string message)
        => new($"{source}:{node.Start.Line}: {OneLine(message)}");

    private static string OneLine(string text)
    {
        if (!text.Any(char.IsControl))
        {
            return text;
        }

        var b = new System.Text.StringBuilder(text.Length + 8);
        foreach (char c in text)
        {
            _ = c switch
            {
                '\n' => b.Append("\\n"),
                '\r' => b.Append("\\r"),
                '\t' => b.Append("\\t"),
                _ when char.IsControl(c) => b.Append(System.Globalization.CultureInfo.InvariantCulture, $"\\u{(int)c:x4}"),
                _ => b.Append(c),
            };
        }

        return b.ToString();
    }

    /// <summary>Reads typed values from nodes, failing with file:line messages.</summary>
    private sealed class NodeReader(string source)
    {
        public ScenarioException Fail(YamlNode node, string message) => Error(source, node, message);

        public string Scalar(YamlNode node) =>
            node is YamlScalarNode { Value: { } v } ? v : throw Fail(node, "expected a number");

        public string Key(YamlNode node, string[] known)
        {
            string key = node is YamlScalarNode { Value: { } v } ? v : throw Fail(node, "keys must be plain strings");
            if (Array.IndexOf(known, key) < 0)
            {
                string? near = Array.Find(known, k => Distance(k, key) <= 2);
                string hint = near is not null ? $" (did you mean '{near}'?)" : $" (known: {string.Join(", ", known)})";
                throw Fail(node, $"unknown key '{key}'{hint}");
            }

            return key;
        }

        public string String(YamlNode node) => node is YamlScalarNode { Value: { } v } && v.Length > 0
            ? v
            : throw Fail(node, "expected a non-empty string");

        /// <summary>A file path, relative ones resolved against <paramref name="baseFolder"/>.</summary>
        public string Path(YamlNode node, string? baseFolder)
        {
            string path = String(node);
            if (path.Contains('\0', StringComparison.Ordinal))
            {
                throw Fail(node, "a path cannot contain a NUL character");
            }

            return baseFolder is null || System.IO.Path.IsPathRooted(path)
                ? path
                : System.IO.Path.GetFullPath(System.IO.Path.Combine(baseFolder, path));
        }

        public bool Bool(YamlNode node) => String(node) switch
        {
            "true" or "yes" or "on" => true,
            "false" or "no" or "off" => false,
            string s => throw Fail(node, $"expected true or false, not '{s}'"),
        };

        public ulong Number(YamlNode node)
        {
            string s = String(node);
            return NumberParser.TryParseNumber(s, out ulong v) ? v : throw Fail(node, $"'{s}' is not a number (decimal or 0x hex)");
        }

        public ulong Positive(YamlNode node)
        {
            ulong v = Number(node);
            return v > 0 ? v : throw Fail(node, "must be greater than zero");
        }

        public int Vcpus(YamlNode node)
        {
            ulong v = Number(node);
            return v is >= 1 and <= Scenario.MaxVcpus
                ? (int)v
                : throw Fail(node, $"vcpus must be between 1 and {Scenario.MaxVcpus}, not {v}");
        }

        public ulong MemorySize(YamlNode node)
        {
            string s = String(node);
            if (!NumberParser.TryParseSize(s, out ulong v))
            {
                throw Fail(node, $"'{s}' is not a size (a number with an optional K, M or G suffix)");
            }

            return MachineLimits.CheckMemory(v) is { } problem ? throw Fail(node, problem) : v;
        }

        public string Choice(YamlNode node, params string[] choices)
        {
            string s = String(node);
            return Array.IndexOf(choices, s) >= 0 ? s : throw Fail(node, $"expected one of {string.Join(", ", choices)}, not '{s}'");
        }

        public ulong Attributes(YamlNode node)
        {
            if (node is YamlScalarNode)
            {
                ulong value = Number(node);
                ulong reserved = value & ~Abi.TdAttributes.Defined;
                return reserved == 0
                    ? value
                    : throw Fail(node, $"td_attributes 0x{value:x} sets reserved bits 0x{reserved:x} (the TDX module refuses such a TD at TDH.MNG.INIT)");
            }

            if (node is not YamlSequenceNode seq)
            {
                throw Fail(node, "td_attributes must be a number or a list of names");
            }

            ulong bits = 0;
            foreach (YamlNode item in seq.Children)
            {
                bits |= String(item) switch
                {
                    "debug" => Abi.TdAttributes.Debug,
                    "sept_ve_disable" => Abi.TdAttributes.SeptVeDisable,
                    "migratable" => Abi.TdAttributes.Migratable,
                    "pks" => Abi.TdAttributes.Pks,
                    "perfmon" => Abi.TdAttributes.Perfmon,
                    string s => throw Fail(item, $"unknown TD attribute '{s}' (known: debug, sept_ve_disable, migratable, pks, perfmon)"),
                };
            }

            return bits;
        }

        private static int Distance(string a, string b)
        {
            var d = new int[a.Length + 1, b.Length + 1];
            for (int i = 0; i <= a.Length; i++)
            {
                d[i, 0] = i;
            }

            for (int j = 0; j <= b.Length; j++)
            {
                d[0, j] = j;
            }

            for (int i = 1; i <= a.Length; i++)
            {
                for (int j = 1; j <= b.Length; j++)
                {
                    int cost = a[i - 1] == b[j - 1] ? 0 : 1;
                    d[i, j] = Math.Min(Math.Min(d[i - 1, j] + 1, d[i, j - 1] + 1), d[i - 1, j - 1] + cost);
                }
            }

            return d[a.Length, b.Length];
        }
    }
}
