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
    /// The guest-fatal line of contract section 2: "vCPU n: RIP 0x... (bytes ...): reason", the bytes read from
    /// <paramref name="memory"/> at <paramref name="rip"/>.
    /// </summary>
    public static string FatalDetail(int vcpu, GuestPhysicalMemory memory, ulong rip, string reason)
    {
        ArgumentNullException.ThrowIfNull(memory);
        return $"vCPU {vcpu}: RIP 0x{rip:x} (bytes {Describe(memory, rip)}): {reason}";
    }

    /// <summary>The same line, the bytes read at the linear address <paramref name="rip"/> through <paramref name="cpu"/>'s
    /// page tables (a Linux guest's kernel runs at higher-half addresses).</summary>
    public static string FatalDetail(int vcpu, Cpu.Cpu cpu, ulong rip, string reason)
    {
        ArgumentNullException.ThrowIfNull(cpu);
        Span<byte> bytes = stackalloc byte[MaxInstructionLength];
        string text = "unreadable";
        for (int n = bytes.Length; n > 0; n--)
        {
            if (cpu.TryReadLinear(rip, bytes[..n]))
            {
                text = Convert.ToHexString(bytes[..n]).ToLowerInvariant();
                break;
            }
        }

        return $"vCPU {vcpu}: RIP 0x{rip:x} (bytes {text}): {reason}";
    }

    /// <summary>
    /// Up to 15 bytes of private memory at <paramref name="rip"/> in lower-case hex, fewer when the code runs up to
    /// the end of private memory, or <c>unreadable</c> when not even one byte is there.
    /// </summary>
    private static string Describe(GuestPhysicalMemory memory, ulong rip)
    {
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
