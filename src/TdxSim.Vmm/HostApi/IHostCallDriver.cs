using TdxSim.Abi.Messages;

namespace TdxSim.Vmm.HostApi;

/// <summary>
/// What the VMM does with its host API while the TD runs: when a vCPU exits to the VMM with a TDVMCALL, the driver
/// may make host calls (KVM-shaped vCPU ioctls) before the VMM handles it, as QEMU may call KVM_GET_REGS while it
/// handles an exit. The VMM sends one call to the machine, waits for its completion, asks for the next, and handles
/// the TDVMCALL and replies once the driver has no more. Called on the VMM actor's thread.
/// </summary>
public interface IHostCallDriver
{
    /// <summary>
    /// The next call to make before <paramref name="request"/> is handled, or null to handle it now.
    /// <paramref name="previous"/> is the completion of the call made before (successful or refused, with the
    /// reason), null when none was made yet for this request.
    /// </summary>
    HostVcpuCall? Next(TdVmcallRequested request, HostVcpuCallCompleted? previous);
}
