using TdxSim.Abi.Messages;
using TdxSim.Devices.Bus;

namespace TdxSim.Devices.Platform;

/// <summary>
/// QEMU's isa-debug-exit convention (one byte at port 0xF4 on the default machine): writing a byte v asks the
/// machine to stop with exit status <c>(v &lt;&lt; 1) | 1</c>, so a guest can report pass or fail without
/// colliding with status 0. The byte is the low byte of the access; reads return all ones (nothing to read).
/// </summary>
public sealed class DebugExit : IIoDevice
{
    private readonly IMachineEvents _events;

    /// <summary>Creates the device.</summary>
    public DebugExit(IMachineEvents events)
    {
        ArgumentNullException.ThrowIfNull(events);
        _events = events;
    }

    /// <inheritdoc/>
    public string Name => "debug-exit";

    /// <summary>The exit status a written byte asks for.</summary>
    public static int ExitStatusFor(byte value) => (value << 1) | 1;

    /// <inheritdoc/>
    public ulong Read(ulong offset, int size) => AccessSize.Mask(size);

    /// <inheritdoc/>
    public void Write(ulong offset, int size, ulong value)
    {
        if (offset != 0)
        {
            return;
        }

        byte v = (byte)value;
        _events.StopRequested(GuestStopKind.DebugExit, v, $"debug-exit byte 0x{v:X2}: exit status {ExitStatusFor(v)}");
    }
}
