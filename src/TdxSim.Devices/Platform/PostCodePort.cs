using TdxSim.Devices.Bus;

namespace TdxSim.Devices.Platform;

/// <summary>
/// The PC POST-code port (0x80): firmware writes progress codes here, and old code writes it just to delay.
/// Each write passes its low byte to <see cref="IMachineEvents.PostCode"/> for the log and is otherwise ignored;
/// reads return the last code written (POST cards latch it), 0 at reset.
/// </summary>
public sealed class PostCodePort : IIoDevice
{
    private readonly IMachineEvents _events;
    private byte _last;

    /// <summary>Creates the device.</summary>
    public PostCodePort(IMachineEvents events)
    {
        ArgumentNullException.ThrowIfNull(events);
        _events = events;
    }

    /// <inheritdoc/>
    public string Name => "post";

    /// <summary>The last code written.</summary>
    public byte LastCode => Volatile.Read(ref _last);

    /// <inheritdoc/>
    public ulong Read(ulong offset, int size) => offset == 0 ? _last : AccessSize.Mask(size);

    /// <inheritdoc/>
    public void Write(ulong offset, int size, ulong value)
    {
        if (offset != 0)
        {
            return;
        }

        Volatile.Write(ref _last, (byte)value);
        _events.PostCode((byte)value);
    }
}
