using TdxSim.Memory;

namespace TdxSim.Guest.Diagnostics;

/// <summary>
/// The instruction bytes a guest-fatal diagnostic shows (contract section 2, exit status 4: stderr names the vCPU,
/// RIP, the instruction bytes and the reason).
/// </summary>
public static class InstructionBytes
{
    /// <summary>The longest x86 instruction (SDM Vol. 2, 2.3.11).</summary>
    private const int MaxInstructionLength = 15;

    /// <summary>
    /// Up to 15 bytes of private memory at <paramref name="rip"/> in lower-case hex, fewer when the code runs up to
    /// the end of private memory, or <c>unreadable</c> when not even one byte is there.
    /// </summary>
    public static string Describe(GuestPhysicalMemory memory, ulong rip)
    {
        ArgumentNullException.ThrowIfNull(memory);
        Span<byte> bytes = stackalloc byte[MaxInstructionLength];
        for (int n = bytes.Length; n > 0; n--)
        {
            if (memory.TryReadPrivate(rip, bytes[..n]))
            {
                return Convert.ToHexString(bytes[..n]).ToLowerInvariant();
            }
        }

        return "unreadable";
    }
}
