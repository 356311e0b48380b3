namespace TdxSim.Vmm.Cpuid;

/// <summary>The four output registers of CPUID.</summary>
public readonly record struct CpuidResult(uint Eax, uint Ebx, uint Ecx, uint Edx)
{
    /// <summary>Twelve ASCII characters packed the way CPUID returns vendor strings: four per register, first
    /// character in the low byte, registers in the order given.</summary>
    public static (uint First, uint Second, uint Third) PackSignature(string twelveChars)
    {
        ArgumentNullException.ThrowIfNull(twelveChars);
        if (twelveChars.Length != 12 || twelveChars.Any(c => c > 0x7F))
        {
            throw new ArgumentException($"CPUID signature must be 12 ASCII characters: '{twelveChars}'", nameof(twelveChars));
        }

        static uint Pack(string s, int at) => s[at] | ((uint)s[at + 1] << 8) | ((uint)s[at + 2] << 16) | ((uint)s[at + 3] << 24);
        return (Pack(twelveChars, 0), Pack(twelveChars, 4), Pack(twelveChars, 8));
    }
}

/// <summary>One CPUID table entry.</summary>
/// <param name="Leaf">EAX input.</param>
/// <param name="Subleaf">ECX input, or null when the leaf ignores ECX.</param>
/// <param name="Result">Output.</param>
public sealed record CpuidEntry(uint Leaf, uint? Subleaf, CpuidResult Result);
