namespace TdxSim.Actors;

/// <summary>Process-independent hashing for schedule fingerprints (string hash codes are randomised per process).</summary>
internal static class StableHashing
{
    public const ulong FnvOffset = 14695981039346656037UL;
    public const ulong FnvPrime = 1099511628211UL;

    public static ulong Fnv1a(string text)
    {
        ulong hash = FnvOffset;
        foreach (char c in text)
        {
            hash = (hash ^ c) * FnvPrime;
        }

        // Zero marks "not computed yet" in caches; map it away.
        return hash == 0 ? FnvPrime : hash;
    }

    public static ulong Mix(ulong hash, ulong value) => (hash ^ value) * FnvPrime;
}
