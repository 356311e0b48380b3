using TdxSim.Devices.Bus;

namespace TdxSim.Devices.Interrupts;

/// <summary>
/// The register file of an I/O APIC (Intel 82093AA data sheet; version 0x20 as in ICH-era chipsets and KVM/QEMU):
/// IOREGSEL at +0x00 selects an indirect register, IOWIN at +0x10 reads or writes it, 32 bits at a time.
/// <list type="bullet">
/// <item>0x00 IOAPICID: bits 27:24 writable.</item>
/// <item>0x01 IOAPICVER: read-only <c>0x00170020</c> (maximum redirection entry 23 in bits 23:16, version 0x20).</item>
/// <item>0x02 IOAPICARB: read-only arbitration id, bits 27:24, loaded from the id.</item>
/// <item>0x10 to 0x3F: 24 redirection entries of 64 bits, low dword at 0x10 + 2n, high dword at 0x11 + 2n. Masked
/// at reset; delivery status (bit 12) and remote IRR (bit 14) are read-only.</item>
/// </list>
/// Other indirect registers read 0 and ignore writes; IOWIN accesses other than 32 bits read 0 and are ignored
/// (QEMU does the same), other offsets of the window read 0. Interrupts are not yet delivered: the pins and the
/// EOI register of version 0x20 are not modelled, so delivery status and remote IRR stay 0.
/// </summary>
public sealed class IoApic : IIoDevice
{
    /// <summary>Size of the MMIO window.</summary>
    public const ulong Length = 0x1000;

    /// <summary>Offset of IOREGSEL.</summary>
    public const ulong RegisterSelectOffset = 0x00;

    /// <summary>Offset of IOWIN.</summary>
    public const ulong WindowOffset = 0x10;

    /// <summary>Number of redirection entries (pins).</summary>
    public const int PinCount = 24;

    /// <summary>Indirect register numbers.</summary>
    public const byte IdRegister = 0x00;

    /// <inheritdoc cref="IdRegister"/>
    public const byte VersionRegister = 0x01;

    /// <inheritdoc cref="IdRegister"/>
    public const byte ArbitrationRegister = 0x02;

    /// <inheritdoc cref="IdRegister"/>
    public const byte FirstRedirectionRegister = 0x10;

    /// <summary>IOAPICVER: maximum redirection entry (PinCount - 1) in bits 23:16, version 0x20.</summary>
    public const uint Version = ((PinCount - 1) << 16) | 0x20;

    /// <summary>Redirection entry bit 16: the pin is masked.</summary>
    public const ulong RedirectionMasked = 1UL << 16;

    /// <summary>IOAPICID bits 27:24: the APIC id.</summary>
    private const uint IdMask = 0x0F00_0000;

    /// <summary>Low dword: vector, delivery mode, destination mode, polarity, trigger mode, mask; not delivery status
    /// (bit 12), remote IRR (bit 14) or the reserved bits 31:17.</summary>
    private const uint RedirectionLowWritable = 0b0000_0000_0000_0001_1010_1111_1111_1111;

    /// <summary>High dword: destination (bits 63:56) and the extended destination id (55:48) Linux uses under KVM.</summary>
    private const uint RedirectionHighWritable = 0xFFFF_0000;

    private readonly ulong[] _redirection = new ulong[PinCount];
    private byte _select;
    private uint _id;

    /// <summary>Creates an I/O APIC in its reset state (id 0, every pin masked).</summary>
    public IoApic()
    {
        Array.Fill(_redirection, RedirectionMasked);
    }

    /// <inheritdoc/>
    public string Name => "ioapic";

    /// <summary>The APIC id (bits 27:24 of IOAPICID).</summary>
    public byte Id => (byte)(Volatile.Read(ref _id) >> 24);

    /// <summary>The redirection entry of <paramref name="pin"/>.</summary>
    public ulong RedirectionEntry(int pin)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual((uint)pin, (uint)PinCount, nameof(pin));
        return Volatile.Read(ref _redirection[pin]);
    }

    /// <inheritdoc/>
    public ulong Read(ulong offset, int size)
    {
        switch (offset)
        {
            case RegisterSelectOffset:
                return _select;
            case WindowOffset when size == 4:
                return ReadIndirect(_select);
            default:
                return 0;
        }
    }

    /// <inheritdoc/>
    public void Write(ulong offset, int size, ulong value)
    {
        switch (offset)
        {
            case RegisterSelectOffset:
                _select = (byte)value;
                break;
            case WindowOffset when size == 4:
                WriteIndirect(_select, (uint)value);
                break;
        }
    }

    private uint ReadIndirect(byte register)
    {
        switch (register)
        {
            case IdRegister:
                return _id;
            case VersionRegister:
                return Version;
            case ArbitrationRegister:
                return _id; // the arbitration id is loaded from the APIC id
            default:
                if (TryRedirection(register, out int pin, out bool high))
                {
                    ulong entry = _redirection[pin];
                    return high ? (uint)(entry >> 32) : (uint)entry;
                }

                return 0;
        }
    }

    private void WriteIndirect(byte register, uint value)
    {
        if (register == IdRegister)
        {
            Volatile.Write(ref _id, value & IdMask);
            return;
        }

        if (TryRedirection(register, out int pin, out bool high))
        {
            ulong entry = _redirection[pin];
            entry = high
                ? (entry & ~((ulong)RedirectionHighWritable << 32)) | ((ulong)(value & RedirectionHighWritable) << 32)
                : (entry & ~(ulong)RedirectionLowWritable) | (value & RedirectionLowWritable);
            Volatile.Write(ref _redirection[pin], entry);
        }
    }

    private static bool TryRedirection(byte register, out int pin, out bool high)
    {
        int index = register - FirstRedirectionRegister;
        pin = index >> 1;
        high = (index & 1) != 0;
        return index >= 0 && pin < PinCount;
    }
}
