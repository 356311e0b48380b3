namespace TdxSim.Machine.Scenarios;

/// <summary>Limits of the emulated machine that inputs are checked against.</summary>
public static class MachineLimits
{
    /// <summary>Each vCPU's stack (contract section 3).</summary>
    public const ulong StackSize = 64 * 1024;

    /// <summary>Largest private memory: below the shared bit (GPAW 48) and within what the host can reserve.</summary>
    public const ulong MaxMemory = 1UL << 46;

    /// <summary>Smallest private memory that leaves room for one image page and one vCPU stack.</summary>
    public const ulong MinMemory = 1UL << 20;

    /// <summary>A problem with a memory size, or null when it is usable.</summary>
    public static string? CheckMemory(ulong bytes)
    {
        if (bytes % Abi.GuestPhysical.PageSize != 0)
        {
            return $"memory size 0x{bytes:x} is not a multiple of 4 KiB";
        }

        if (bytes < MinMemory)
        {
            return $"memory size 0x{bytes:x} is below the 1M minimum";
        }

        return bytes > MaxMemory ? $"memory size 0x{bytes:x} exceeds the {MaxMemory >> 40}T maximum" : null;
    }
}
