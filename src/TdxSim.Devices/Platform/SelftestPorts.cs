using TdxSim.Abi.Messages;
using TdxSim.Devices.Bus;

namespace TdxSim.Devices.Platform;

/// <summary>
/// The KVM TDX selftest conventions (reference 7), two ports from the base (0x30 on the default machine):
/// offset 0 = success (any OUT stops the guest with exit status 0), offset 1 = report (each OUT value, of the
/// access size, is appended to the report list; a 64-bit value is two 4-byte writes, low half first). Reads
/// return all ones.
/// </summary>
public sealed class SelftestPorts : IIoDevice
{
    /// <summary>Offset of the success port.</summary>
    public const ulong SuccessOffset = 0;

    /// <summary>Offset of the report port.</summary>
    public const ulong ReportOffset = 1;

    /// <summary>Number of ports the device decodes.</summary>
    public const ulong Length = 2;

    private readonly IMachineEvents _events;

    /// <summary>Creates the device.</summary>
    public SelftestPorts(IMachineEvents events)
    {
        ArgumentNullException.ThrowIfNull(events);
        _events = events;
    }

    /// <inheritdoc/>
    public string Name => "selftest";

    /// <inheritdoc/>
    public ulong Read(ulong offset, int size) => AccessSize.Mask(size);

    /// <inheritdoc/>
    public void Write(ulong offset, int size, ulong value)
    {
        switch (offset)
        {
            case SuccessOffset:
                _events.StopRequested(GuestStopKind.SelftestSuccess, 0, $"selftest success port written (0x{value:X}, {size} bytes)");
                break;
            case ReportOffset:
                _events.Reported(value);
                break;
        }
    }
}
