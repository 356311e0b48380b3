using TdxSim.Abi.Messages;

namespace TdxSim.Devices;

/// <summary>
/// What devices tell the machine: requests to stop the guest, selftest reports, POST codes. Devices know nothing
/// of actors or vCPUs; the VMM's implementation attributes each event to the vCPU whose access caused it and turns
/// it into a message.
/// </summary>
/// <remarks>Called while the bus holds the device's lock: record or forward the event and return; never call back
/// into a bus.</remarks>
public interface IMachineEvents
{
    /// <summary>The guest asked to stop (debug-exit port, selftest success port).</summary>
    /// <param name="kind">Why.</param>
    /// <param name="value">The debug-exit byte, or 0.</param>
    /// <param name="detail">One human-readable line.</param>
    void StopRequested(GuestStopKind kind, ulong value, string detail);

    /// <summary>The guest reported a value on the selftest report port.</summary>
    void Reported(ulong value);

    /// <summary>The guest wrote a POST code to port 0x80.</summary>
    void PostCode(byte code);
}
