using TdxSim.Memory;
using TdxSim.Vmm.Memory;

namespace TdxSim.Machine.Audit;

/// <summary>
/// Hooks into the building of one TD, for confidentiality audits (poison guest state, watch what the host touches):
/// <see cref="MachineIo.Instrumentation"/>. A normal run has none. Called on the thread that calls
/// <see cref="TdMachine.Run"/>, before any actor starts, except what <see cref="WrapHostMemory"/> returns, which the
/// VMM uses from its own threads.
/// </summary>
public interface IMachineInstrumentation
{
    /// <summary>Private memory is reserved (all accepted, or pending under lazy accept) and the image not yet loaded.</summary>
    void MemoryReserved(GuestPhysicalMemory memory);

    /// <summary>vCPU <paramref name="vcpu"/> has its entry state (contract section 3); the hook may change its GPRs.</summary>
    void VcpuReset(int vcpu, Span<ulong> gprs);

    /// <summary>The VMM's view of guest memory: return <paramref name="host"/> or a decorator over it.</summary>
    IHostMemory WrapHostMemory(IHostMemory host);
}
