using System.Text;

namespace TdxSim.Actors;

/// <summary>
/// The position of an actor in its system's hierarchy. Top-level actors live under <c>/user</c>
/// (<c>/user/vmm</c>); children append their name (<c>/user/vcpu/0</c>). Names are validated by
/// <see cref="ValidateName"/>; the full string is built once, so reading it on hot paths allocates nothing.
/// </summary>
public sealed class ActorPath : IEquatable<ActorPath>
{
    private const string AllowedPunctuation = "-_.:@&=+,!~*'$;()";
    private readonly string _full;
    private string? _userRelative;
    private ulong _hash;

    private ActorPath(ActorPath? parent, string name)
    {
        Parent = parent;
        Name = name;
        Depth = parent is null ? 0 : parent.Depth + 1;
        _full = parent is null ? "/" : parent.Parent is null ? "/" + name : parent._full + "/" + name;
    }

    /// <summary>The root of every hierarchy, <c>/</c>.</summary>
    public static ActorPath Root { get; } = new(null, string.Empty);

    /// <summary>The last element (empty for <see cref="Root"/>).</summary>
    public string Name { get; }

    /// <summary>The enclosing path, <see langword="null"/> for <see cref="Root"/>.</summary>
    public ActorPath? Parent { get; }

    /// <summary>Number of elements below the root (<c>/user/vmm</c> has depth 2).</summary>
    public int Depth { get; }

    /// <summary>Returns the path of a child called <paramref name="name"/> (validated).</summary>
    public ActorPath Child(string name)
    {
        ValidateName(name);
        return new ActorPath(this, name);
    }

    /// <summary>Creates a child path without validation, for names the runtime generates itself.</summary>
    internal ActorPath ChildUnchecked(string name) => new(this, name);

    /// <summary>
    /// The path relative to the user guardian, e.g. <c>vcpu/0</c> for <c>/user/vcpu/0</c>: the form used
    /// as actor name in message logs. Paths outside <c>/user</c> return the full path without its leading '/'.
    /// </summary>
    public string ToUserRelativeString()
    {
        if (_userRelative is not null)
        {
            return _userRelative;
        }

        const string UserPrefix = "/user/";
        string relative = _full.StartsWith(UserPrefix, StringComparison.Ordinal)
            ? _full[UserPrefix.Length..]
            : _full.TrimStart('/');
        _userRelative = relative;
        return relative;
    }

    /// <summary>A stable 64-bit FNV-1a hash of the full path, identical across processes (unlike <see cref="string.GetHashCode()"/>).</summary>
    public ulong StableHash
    {
        get
        {
            if (_hash == 0)
            {
                _hash = StableHashing.Fnv1a(_full);
            }

            return _hash;
        }
    }

    /// <summary>
    /// Checks that <paramref name="name"/> can name an actor: non-empty, ASCII letters, digits and
    /// <c>-_.:@&amp;=+,!~*'$;()</c> only, not starting with '$' (reserved for generated names).
    /// </summary>
    /// <exception cref="InvalidActorNameException">The name breaks one of these rules; the message names the rule.</exception>
    public static void ValidateName(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        if (name.Length == 0)
        {
            throw new InvalidActorNameException("Actor names must not be empty.");
        }

        if (name[0] == '$')
        {
            throw new InvalidActorNameException($"Actor name '{name}' is invalid: names starting with '$' are reserved for generated names.");
        }

        foreach (char c in name)
        {
            if (!char.IsAsciiLetterOrDigit(c) && !AllowedPunctuation.Contains(c, StringComparison.Ordinal))
            {
                string shown = c == '/' ? "'/' (a path separator; use a child actor or a name like \"vcpu-0\")" : $"'{Escape(c)}'";
                throw new InvalidActorNameException(
                    $"Actor name '{name}' is invalid: character {shown} is not allowed; use ASCII letters, digits and {AllowedPunctuation}.");
            }
        }
    }

    private static string Escape(char c) => char.IsControl(c) || char.IsWhiteSpace(c)
        ? new StringBuilder().Append("\\u").Append(((int)c).ToString("x4", System.Globalization.CultureInfo.InvariantCulture)).ToString()
        : c.ToString();

    /// <summary>The full path, e.g. <c>/user/vcpu/0</c>.</summary>
    public override string ToString() => _full;

    /// <inheritdoc />
    public bool Equals(ActorPath? other) => other is not null && string.Equals(_full, other._full, StringComparison.Ordinal);

    /// <inheritdoc />
    public override bool Equals(object? obj) => Equals(obj as ActorPath);

    /// <inheritdoc />
    public override int GetHashCode() => _full.GetHashCode(StringComparison.Ordinal);
}
