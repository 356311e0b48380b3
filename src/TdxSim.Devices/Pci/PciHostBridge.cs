namespace TdxSim.Devices.Pci;

/// <summary>
/// Configuration space of the host bridge at 00:00.0: an Intel 82G33/P35 ("Q35") DRAM controller, the host
/// bridge QEMU's q35 machine (the machine type TDX guests run on) presents.
/// </summary>
public static class PciHostBridge
{
    /// <summary>Intel.</summary>
    public const ushort VendorId = 0x8086;

    /// <summary>82G33/G31/P35/P31 Express DRAM Controller.</summary>
    public const ushort DeviceId = 0x29C0;

    /// <summary>Base class 0x06 (bridge), sub-class 0x00 (host bridge), programming interface 0.</summary>
    public const uint ClassCode = 0x06_00_00;

    /// <summary>
    /// Command bits a guest may set: I/O space, memory space, bus master, parity error response, SERR# enable,
    /// INTx disable (PCI 3.0, 6.2.2; QEMU's default command mask).
    /// </summary>
    public const ushort CommandWriteMask = 0b0000_0101_0100_0111;

    /// <summary>Creates the bridge's configuration space.</summary>
    public static PciConfigSpace Create()
    {
        var space = new PciConfigSpace();
        space.Initialize(PciConfigSpace.VendorIdOffset, 2, VendorId);
        space.Initialize(PciConfigSpace.DeviceIdOffset, 2, DeviceId);
        space.Initialize(PciConfigSpace.RevisionIdOffset, 1, 0);
        space.Initialize(PciConfigSpace.ClassCodeOffset, 1, ClassCode & 0xFF);
        space.Initialize(PciConfigSpace.ClassCodeOffset + 1, 2, ClassCode >> 8);
        space.Initialize(PciConfigSpace.HeaderTypeOffset, 1, 0x00); // type 0 header, single function

        space.SetWriteMask(PciConfigSpace.CommandOffset, 2, CommandWriteMask);
        space.SetWriteMask(PciConfigSpace.CacheLineSizeOffset, 1, 0xFF);
        space.SetWriteMask(PciConfigSpace.LatencyTimerOffset, 1, 0xFF);
        space.SetWriteMask(PciConfigSpace.InterruptLineOffset, 1, 0xFF);
        return space;
    }
}
