namespace TdxSim.Devices;

/// <summary>
/// A level-triggered interrupt output of a device (vm-superio's <c>Trigger</c>). The device reports the level after
/// every access that may change it; the receiver (an interrupt controller, once interrupts are delivered) reacts
/// to changes.
/// </summary>
/// <remarks>Called while the bus holds the device's lock: record and return; never call back into a bus.</remarks>
public interface IInterruptLine
{
    /// <summary>Sets the line level: true = asserted.</summary>
    void SetLevel(bool asserted);
}
