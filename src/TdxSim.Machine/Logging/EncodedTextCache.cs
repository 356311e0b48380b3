using System.Text.Json;

namespace TdxSim.Machine.Logging;

/// <summary>
/// Pre-encoded JSON strings keyed by string instance. The strings a writer sees again and again (leaf,
/// sub-function and reason names, type names, slice names) are a handful of instances, so a reference lookup
/// replaces the escaping scan <see cref="Utf8JsonWriter"/> would otherwise do on every write. Bounded: cleared
/// when it passes a few thousand entries, so strings built per message cannot accumulate. Single-threaded.
/// </summary>
internal sealed class EncodedTextCache
{
    private const int MaxEntries = 4096;

    private readonly Dictionary<string, JsonEncodedText> _entries = new(ReferenceEqualityComparer.Instance);

    /// <summary>The encoding of <paramref name="text"/>.</summary>
    public JsonEncodedText Get(string text)
    {
        if (!_entries.TryGetValue(text, out JsonEncodedText encoded))
        {
            if (_entries.Count >= MaxEntries)
            {
                _entries.Clear();
            }

            encoded = JsonEncodedText.Encode(text);
            _entries.Add(text, encoded);
        }

        return encoded;
    }
}
