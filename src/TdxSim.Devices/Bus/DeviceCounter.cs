namespace TdxSim.Devices.Bus;

/// <summary>Access counts of one device on a bus, for the final-state dump.</summary>
/// <param name="Name">The device's <see cref="IIoDevice.Name"/>.</param>
/// <param name="Reads">Reads the bus routed to the device.</param>
/// <param name="Writes">Writes the bus routed to the device.</param>
public readonly record struct DeviceCounter(string Name, long Reads, long Writes)
{
    /// <summary>Reads plus writes.</summary>
    public long Accesses => Reads + Writes;
}
