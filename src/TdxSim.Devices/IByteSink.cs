namespace TdxSim.Devices;

/// <summary>Where a serial port's transmitted bytes go (the CLI connects stdout).</summary>
/// <remarks>Called while the bus holds the device's lock: buffer and return quickly.</remarks>
public interface IByteSink
{
    /// <summary>One transmitted byte.</summary>
    void Write(byte value);
}
