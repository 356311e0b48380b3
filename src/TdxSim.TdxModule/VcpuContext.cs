using TdxSim.Abi;
using TdxSim.TdxModule.Virtualization;

namespace TdxSim.TdxModule;

/// <summary>
/// The module's per-vCPU state (the TDVPS of one vCPU): VE info and its valid flag, the GPR_SELECT of a
/// TDG.VP.VMCALL in flight, and the MSRs the module keeps for the vCPU. One vCPU issues one request at a time,
/// so only <see cref="PendingSelect"/> needs atomic access: it is the one field a (possibly hostile) VMM reply touches.
/// </summary>
internal sealed class VcpuContext
{
    /// <summary>No TDG.VP.VMCALL is in flight.</summary>
    public const int NoPendingVmcall = -1;

    public VcpuContext(int index) => Index = index;

    /// <summary>The vCPU index (TDG.VP.INFO R9, x2APIC ID).</summary>
    public int Index { get; }

    /// <summary>The VE info of the last #VE (reference 3.2).</summary>
    public VeInfo VeInfo { get; set; }

    /// <summary>VE_INFO.VALID: set on #VE injection, cleared by TDG.VP.VEINFO.GET.</summary>
    public bool VeValid { get; set; }

    /// <summary>GPR_SELECT of the TDG.VP.VMCALL the VMM is handling, or <see cref="NoPendingVmcall"/>.</summary>
    public int PendingSelect = NoPendingVmcall;

    /// <summary>The MSRs the module keeps for this vCPU.</summary>
    public VcpuMsrFile Msrs { get; } = new();
}
