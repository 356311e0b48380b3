namespace TdxSim.Devices.Bus;

/// <summary>A registered address range <c>[Base, Base + Length)</c> and the device that decodes it.</summary>
/// <param name="Base">First address of the range.</param>
/// <param name="Length">Number of addresses; never zero.</param>
/// <param name="Device">The device.</param>
public sealed record BusRange(ulong Base, ulong Length, IIoDevice Device)
{
    /// <summary>Last address of the range (inclusive).</summary>
    public ulong Last => Base + Length - 1;

    /// <inheritdoc/>
    public override string ToString() => $"{Device.Name} [0x{Base:X}, 0x{Last:X}]";
}
