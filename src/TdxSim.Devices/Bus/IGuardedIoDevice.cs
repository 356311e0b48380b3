namespace TdxSim.Devices.Bus;

/// <summary>
/// A device that also has host-side entry points (input queues, snapshots) and so needs a lock of its own offers
/// it here; the bus then takes this lock for guest accesses instead of creating one, so an access costs one lock,
/// not two nested ones.
/// </summary>
public interface IGuardedIoDevice : IIoDevice
{
    /// <summary>The lock that guards all of the device's state.</summary>
    Lock Gate { get; }
}
