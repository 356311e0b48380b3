using System.Runtime.CompilerServices;
using System.Text.Json;

namespace TdxSim.Machine.Logging;

/// <summary>
/// JSON string contents, escaped once by <see cref="JsonEncodedText.Encode(string, System.Text.Encodings.Web.JavaScriptEncoder?)"/>
/// and kept as UTF-8, keyed by string instance (or, for message type names, by <see cref="Type"/>). The JSON Lines
/// writer copies these bytes straight into its output, so they are exactly what <see cref="Utf8JsonWriter"/> wrote
/// for the same <see cref="JsonEncodedText"/>. Single-threaded.
/// </summary>
/// <remarks>
/// The strings a record carries (leaf, sub-function and reason names, type names) are a handful of instances, so
/// a small direct-mapped table indexed by the instance's identity hash answers nearly every lookup with one
/// reference comparison. Behind it a reference-keyed dictionary holds everything seen, so two hot strings that
/// share a slot cost a dictionary lookup rather than a fresh encoding. The dictionary is cleared when it passes a
/// few thousand entries, so strings built per message (fault text) cannot accumulate; the table keeps at most
/// <see cref="SlotCount"/> of them alive.
/// </remarks>
internal sealed class Utf8TextCache
{
    /// <summary>Direct-mapped slots (a power of two).</summary>
    private const int SlotCount = 256;

    private const int MaxEntries = 4096;

    private readonly Slot[] _slots = new Slot[SlotCount];
    private readonly Dictionary<object, byte[]> _entries = new(ReferenceEqualityComparer.Instance);

    /// <summary>The escaped UTF-8 form of <paramref name="text"/> (without quotes).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public ReadOnlySpan<byte> Get(string text) => Lookup(text);

    /// <summary>The escaped UTF-8 form of <paramref name="type"/>'s <see cref="System.Reflection.MemberInfo.Name"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public ReadOnlySpan<byte> GetTypeName(Type type) => Lookup(type);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private byte[] Lookup(object key)
    {
        ref Slot slot = ref _slots[RuntimeHelpers.GetHashCode(key) & (SlotCount - 1)];
        return ReferenceEquals(slot.Key, key) ? slot.Utf8 : Miss(key, ref slot);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private byte[] Miss(object key, ref Slot slot)
    {
        if (!_entries.TryGetValue(key, out byte[]? utf8))
        {
            if (_entries.Count >= MaxEntries)
            {
                _entries.Clear();
            }

            string text = key as string ?? ((Type)key).Name;
            utf8 = JsonEncodedText.Encode(text).EncodedUtf8Bytes.ToArray();
            _entries.Add(key, utf8);
        }

        slot.Key = key;
        slot.Utf8 = utf8;
        return utf8;
    }

    private struct Slot
    {
        public object? Key;
        public byte[] Utf8;
    }
}
