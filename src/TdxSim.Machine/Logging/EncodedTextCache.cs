using System.Runtime.CompilerServices;
using System.Text.Json;

namespace TdxSim.Machine.Logging;

/// <summary>
/// Pre-encoded JSON strings keyed by string instance (or, for message type names, by <see cref="Type"/>), shared
/// by the JSON Lines writer, which copies <see cref="JsonEncodedText.EncodedUtf8Bytes"/> straight into its output,
/// and the Chrome trace writer, which hands the <see cref="JsonEncodedText"/> to <see cref="Utf8JsonWriter"/>. Either
/// way the escaping scan is done once per string, not on every write. Single-threaded.
/// </summary>
/// <remarks>
/// The strings a record carries (leaf, sub-function and reason names, type names, slice names) are a handful of
/// instances, so a small direct-mapped table indexed by the instance's identity hash answers nearly every lookup
/// with one reference comparison. Behind it a reference-keyed dictionary holds everything seen, so two hot strings
/// that share a slot cost a dictionary lookup rather than a fresh encoding. The dictionary is cleared when it passes
/// a few thousand entries, so strings built per message (fault text, trace slice names) cannot accumulate; the table
/// keeps at most <see cref="SlotCount"/> of them alive.
/// </remarks>
internal sealed class EncodedTextCache
{
    /// <summary>Direct-mapped slots (a power of two).</summary>
    private const int SlotCount = 256;

    private const int MaxEntries = 4096;

    private readonly Slot[] _slots = new Slot[SlotCount];
    private readonly Dictionary<object, JsonEncodedText> _entries = new(ReferenceEqualityComparer.Instance);

    /// <summary>The encoding of <paramref name="text"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public JsonEncodedText Get(string text) => Lookup(text);

    /// <summary>The encoding of <paramref name="type"/>'s <see cref="System.Reflection.MemberInfo.Name"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public JsonEncodedText GetTypeName(Type type) => Lookup(type);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private JsonEncodedText Lookup(object key)
    {
        ref Slot slot = ref _slots[RuntimeHelpers.GetHashCode(key) & (SlotCount - 1)];
        return ReferenceEquals(slot.Key, key) ? slot.Encoded : Miss(key, ref slot);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private JsonEncodedText Miss(object key, ref Slot slot)
    {
        if (!_entries.TryGetValue(key, out JsonEncodedText encoded))
        {
            if (_entries.Count >= MaxEntries)
            {
                _entries.Clear();
            }

            encoded = JsonEncodedText.Encode(key as string ?? ((Type)key).Name);
            _entries.Add(key, encoded);
        }

        slot.Key = key;
        slot.Encoded = encoded;
        return encoded;
    }

    private struct Slot
    {
        public object? Key;
        public JsonEncodedText Encoded;
    }
}
