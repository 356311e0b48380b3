using System.Runtime.CompilerServices;

namespace TdxSim.Devices.Bus;

/// <summary>Access sizes of port I/O and MMIO: 1, 2, 4 or 8 bytes.</summary>
public static class AccessSize
{
    /// <summary>True for 1, 2, 4 and 8.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool IsValid(int size) => size is 1 or 2 or 4 or 8;

    /// <summary>All ones for an access of <paramref name="size"/> bytes (1 to 8), e.g. 0xFFFF for 2:
    /// what an unclaimed read returns, as on a PC bus with nobody driving the data lines.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong Mask(int size) => size >= 8 ? ulong.MaxValue : (1UL << (size * 8)) - 1;
}
