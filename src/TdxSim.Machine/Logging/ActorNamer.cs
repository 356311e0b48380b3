using System.Runtime.CompilerServices;
using System.Text.Json;
using Akka.Actor;

namespace TdxSim.Machine.Logging;

/// <summary>An actor's name as the message log writes it (e.g. <c>vcpu/0</c>), with its JSON encoding.</summary>
public sealed class ActorLabel
{
    internal ActorLabel(string name)
    {
        Name = name;
        Encoded = JsonEncodedText.Encode(name);
    }

    /// <summary>The name relative to the machine, e.g. <c>tdx-module</c>.</summary>
    public string Name { get; }

    /// <summary><see cref="Name"/> pre-encoded for <see cref="Utf8JsonWriter"/>, so writing it costs no escaping work.</summary>
    public JsonEncodedText Encoded { get; }

    /// <inheritdoc/>
    public override string ToString() => Name;
}

/// <summary>
/// Names actors in the message log relative to the machine (contract section 6): everything up to and
/// including a root path such as <c>/user/machine/</c> is stripped, so <c>/user/machine/vcpu/0</c> becomes
/// <c>vcpu/0</c>. An actor outside the root keeps its path relative to <c>/user</c> (<c>/user/probe</c> is
/// <c>probe</c>; <c>/system/x</c> is <c>system/x</c>). The label is computed once per <see cref="IActorRef"/>
/// and cached weakly, so naming a known actor allocates nothing and short-lived refs (Ask) are not kept alive.
/// Thread-safe.
/// </summary>
public sealed class ActorNamer
{
    /// <summary>The root the machine's actors live under.</summary>
    public const string DefaultRootPath = "/user/machine/";

    private readonly ConditionalWeakTable<IActorRef, ActorLabel> _cache = [];
    private readonly Dictionary<IActorRef, ActorLabel> _writerCache = new(ReferenceEqualityComparer.Instance);
    private readonly ConditionalWeakTable<IActorRef, ActorLabel>.CreateValueCallback _create;

    /// <summary>Creates a namer stripping <paramref name="rootPath"/> (a trailing '/' is added when missing).</summary>
    /// <exception cref="ArgumentException">The root path does not start with '/'.</exception>
    public ActorNamer(string rootPath = DefaultRootPath)
    {
        ArgumentNullException.ThrowIfNull(rootPath);
        if (!rootPath.StartsWith('/'))
        {
            throw new ArgumentException($"The log's root actor path must be absolute (start with '/'), got '{rootPath}'.", nameof(rootPath));
        }

        RootPath = rootPath.EndsWith('/') ? rootPath : rootPath + "/";
        _create = r => new ActorLabel(NameOf(r.Path.ToStringWithoutAddress(), r.Path));
    }

    /// <summary>The stripped prefix, always ending in '/'.</summary>
    public string RootPath { get; }

    /// <summary>The cached label of <paramref name="actor"/>.</summary>
    public ActorLabel LabelOf(IActorRef actor)
    {
        ArgumentNullException.ThrowIfNull(actor);
        return _cache.TryGetValue(actor, out ActorLabel? label) ? label : _cache.GetValue(actor, _create);
    }

    /// <summary>
    /// Like <see cref="LabelOf"/>, for the one thread that owns this call (the recorder's writer): a plain
    /// dictionary in front of the weak table, cleared when it grows past a few thousand refs so short-lived
    /// actors cannot accumulate. Not thread-safe.
    /// </summary>
    internal ActorLabel LabelOfSingleThreaded(IActorRef actor)
    {
        if (_writerCache.TryGetValue(actor, out ActorLabel? label))
        {
            return label;
        }

        if (_writerCache.Count >= 4096)
        {
            _writerCache.Clear();
        }

        label = LabelOf(actor);
        _writerCache.Add(actor, label);
        return label;
    }

    /// <summary>Applies the naming rule to a full path string, e.g. <c>/user/machine/vmm/0</c> → <c>vmm/0</c>.</summary>
    public string NameOf(string fullPath) => NameOf(fullPath, null);

    private string NameOf(string fullPath, ActorPath? path)
    {
        if (fullPath.Length > RootPath.Length && fullPath.StartsWith(RootPath, StringComparison.Ordinal))
        {
            return fullPath[RootPath.Length..];
        }

        if (path is not null)
        {
            string full = path.ToStringWithoutAddress();
            return full.StartsWith("/user/", StringComparison.Ordinal) ? full["/user/".Length..] : full.TrimStart('/');
        }

        const string UserPrefix = "/user/";
        return fullPath.StartsWith(UserPrefix, StringComparison.Ordinal) ? fullPath[UserPrefix.Length..] : fullPath.TrimStart('/');
    }
}
