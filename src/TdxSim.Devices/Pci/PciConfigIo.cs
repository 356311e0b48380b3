using System.Diagnostics.CodeAnalysis;
using TdxSim.Devices.Bus;

namespace TdxSim.Devices.Pci;

/// <summary>
/// PCI configuration mechanism #1 (PCI Local Bus Specification 3.0, 3.2.2.3.2), eight ports from the base
/// (0xCF8 on the PC): offsets 0 to 3 are CONFIG_ADDRESS, offsets 4 to 7 CONFIG_DATA.
/// <para>
/// CONFIG_ADDRESS: bit 31 enable, bits 23:16 bus, 15:11 device, 10:8 function, 7:2 dword register; bits 30:24 and
/// 1:0 are reserved and read 0. Only a 32-bit write at offset 0 loads it (byte and word writes to 0xCF8 to 0xCFB
/// are other chipset registers on real boards, not modelled and ignored); reads return its bytes.
/// </para>
/// <para>
/// CONFIG_DATA: a 1-, 2- or 4-byte access at 0xCFC + n reaches byte n of the selected dword. It reads all ones and
/// ignores writes when the enable bit is clear, when no function answers at the address (so enumeration finds
/// nothing), or when the access would cross the dword (Cloud Hypervisor's rule).
/// </para>
/// </summary>
public sealed class PciConfigIo : IIoDevice
{
    /// <summary>Number of ports the device decodes.</summary>
    public const ulong Length = 8;

    /// <summary>CONFIG_ADDRESS enable bit.</summary>
    public const uint EnableBit = 1u << 31;

    private const ulong DataOffset = 4;
    private const uint AddressMask = EnableBit | 0x00FF_FFFC;

    private readonly Dictionary<int, PciConfigSpace> _functions = [];
    private uint _address;

    /// <inheritdoc/>
    public string Name => "pci-cfg";

    /// <summary>The CONFIG_ADDRESS register.</summary>
    public uint ConfigAddress => Volatile.Read(ref _address);

    /// <summary>The CONFIG_ADDRESS value that selects a register, with the enable bit set.</summary>
    public static uint Address(int bus, int device, int function, int register) =>
        EnableBit | ((uint)bus << 16) | ((uint)device << 11) | ((uint)function << 8) | ((uint)register & 0xFC);

    /// <summary>Places a function at <paramref name="bus"/>:<paramref name="device"/>.<paramref name="function"/>. Setup only.</summary>
    /// <exception cref="ArgumentException">Out-of-range numbers, or the slot is taken.</exception>
    public void AddFunction(int bus, int device, int function, PciConfigSpace space)
    {
        ArgumentNullException.ThrowIfNull(space);
        ArgumentOutOfRangeException.ThrowIfGreaterThan((uint)bus, 255u, nameof(bus));
        ArgumentOutOfRangeException.ThrowIfGreaterThan((uint)device, 31u, nameof(device));
        ArgumentOutOfRangeException.ThrowIfGreaterThan((uint)function, 7u, nameof(function));
        if (!_functions.TryAdd(Key(bus, device, function), space))
        {
            throw new ArgumentException($"PCI function {bus:X2}:{device:X2}.{function} already exists", nameof(function));
        }
    }

    /// <inheritdoc/>
    public ulong Read(ulong offset, int size)
    {
        if (offset < DataOffset)
        {
            ulong value = 0;
            for (int i = 0; i < size && offset + (ulong)i < DataOffset; i++)
            {
                value |= (ulong)(byte)(_address >> (8 * ((int)offset + i))) << (8 * i);
            }

            // Bytes past CONFIG_ADDRESS belong to CONFIG_DATA's window; an access spanning both reads them as ones.
            return offset + (ulong)size <= DataOffset ? value : value | (AccessSize.Mask(size) & ~AccessSize.Mask((int)(DataOffset - offset)));
        }

        return TrySelect(offset, size, out PciConfigSpace? space, out int register)
            ? space.Read(register, size)
            : AccessSize.Mask(size);
    }

    /// <inheritdoc/>
    public void Write(ulong offset, int size, ulong value)
    {
        if (offset < DataOffset)
        {
            if (offset == 0 && size == 4)
            {
                Volatile.Write(ref _address, (uint)value & AddressMask);
            }

            return;
        }

        if (TrySelect(offset, size, out PciConfigSpace? space, out int register))
        {
            space.Write(register, size, (uint)value);
        }
    }

    private bool TrySelect(ulong offset, int size, [NotNullWhen(true)] out PciConfigSpace? space, out int register)
    {
        space = null;
        ulong lane = offset - DataOffset;
        register = (int)(_address & 0xFC) + (int)lane;
        uint address = _address;
        if ((address & EnableBit) == 0 || size > 4 || lane + (ulong)size > 4)
        {
            return false;
        }

        int bus = (int)(address >> 16) & 0xFF;
        int device = (int)(address >> 11) & 0x1F;
        int function = (int)(address >> 8) & 0x7;
        return _functions.TryGetValue(Key(bus, device, function), out space);
    }

    private static int Key(int bus, int device, int function) => (bus << 8) | (device << 3) | function;
}
