using Akka.Configuration;
using Akka.Configuration.Hocon;

namespace TdxSim.Runtime.Configuration;

/// <summary>
/// What Akka's HOCON parser lets through: it closes an unclosed object or string at the end of the text, ignores a
/// stray closing brace, and keeps a key with no value. A user's mistake there would silently change the
/// configuration, so TdxSim checks the text's structure and the parsed tree before it uses a user's HOCON.
/// </summary>
internal static class HoconCheck
{
    /// <summary>The first structural problem of <paramref name="text"/>, as "line N: ...", or null.</summary>
    public static string? Structure(string text)
    {
        var open = new Stack<(char Close, int Line)>();
        int line = 1;
        for (int i = 0; i < text.Length; i++)
        {
            char c = text[i];
            switch (c)
            {
                case '\n':
                    line++;
                    break;
                case '#':
                case '/' when i + 1 < text.Length && text[i + 1] == '/':
                    while (i + 1 < text.Length && text[i + 1] != '\n')
                    {
                        i++;
                    }

                    break;
                case '"':
                    int start = line;
                    if (!SkipString(text, ref i, ref line))
                    {
                        return $"line {start}: a string is not closed";
                    }

                    break;
                case '{':
                    open.Push(('}', line));
                    break;
                case '[':
                    open.Push((']', line));
                    break;
                case '}' or ']':
                    if (open.Count == 0 || open.Peek().Close != c)
                    {
                        return $"line {line}: '{c}' closes nothing";
                    }

                    open.Pop();
                    break;
            }
        }

        return open.Count == 0 ? null : $"line {open.Peek().Line}: '{(open.Peek().Close == '}' ? '{' : '[')}' is not closed";
    }

    /// <summary>The path of the first key with no value in <paramref name="config"/>, or null.</summary>
    public static string? EmptyKey(Config config) => config.Root is { } root ? EmptyKey(root, string.Empty) : null;

    private static string? EmptyKey(HoconValue value, string path)
    {
        if (value.IsObject())
        {
            foreach ((string key, HoconValue child) in value.GetObject().Items)
            {
                if (EmptyKey(child, path.Length == 0 ? key : $"{path}.{key}") is { } empty)
                {
                    return empty;
                }
            }

            return null;
        }

        return value.Values.Count == 0 && path.Length != 0 ? path : null;
    }

    /// <summary>Moves <paramref name="i"/> to the closing quote of the string opening at it (plain or triple-quoted).</summary>
    private static bool SkipString(string text, ref int i, ref int line)
    {
        if (string.CompareOrdinal(text, i, "\"\"\"", 0, 3) == 0)
        {
            int end = text.IndexOf("\"\"\"", i + 3, StringComparison.Ordinal);
            if (end < 0)
            {
                return false;
            }

            line += text.AsSpan(i, end - i).Count('\n');
            i = end + 2;
            return true;
        }

        for (i++; i < text.Length; i++)
        {
            switch (text[i])
            {
                case '\\':
                    i++;
                    break;
                case '"':
                    return true;
                case '\n':
                    return false;
            }
        }

        return false;
    }
}
