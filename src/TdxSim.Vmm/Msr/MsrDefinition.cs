namespace TdxSim.Vmm.Msr;

/// <summary>An MSR the VMM answers.</summary>
/// <param name="Index">The MSR number (ECX of RDMSR/WRMSR).</param>
/// <param name="Name">SDM name, e.g. <c>IA32_MISC_ENABLE</c>.</param>
/// <param name="Access">Which of RDMSR and WRMSR the guest may use.</param>
/// <param name="Scope">Per vCPU or per TD.</param>
/// <param name="ResetValue">Value at reset (unless <see cref="VcpuResetValue"/> is given).</param>
/// <param name="ReservedBits">Bits a guest WRMSR must leave clear; setting one fails with INVALID_OPERAND (#GP on hardware).</param>
public sealed record MsrDefinition(uint Index, string Name, MsrAccess Access, MsrScope Scope, ulong ResetValue, ulong ReservedBits = 0)
{
    /// <summary>Reset value as a function of the vCPU index, for per-vCPU MSRs that encode it (APIC id, BSP bit).</summary>
    public Func<int, ulong>? VcpuResetValue { get; init; }

    /// <summary>The reset value for <paramref name="vcpu"/>.</summary>
    public ulong ResetValueFor(int vcpu) => VcpuResetValue?.Invoke(vcpu) ?? ResetValue;

    /// <summary>True when a guest RDMSR is allowed.</summary>
    /// <summary>A guest write succeeds and changes nothing (KVM's IA32_BIOS_SIGN_ID: only the host sets it).</summary>
    public bool IgnoreGuestWrites { get; init; }

    public bool Readable => Access != MsrAccess.WriteOnly;

    /// <summary>True when a guest WRMSR is allowed.</summary>
    public bool Writable => Access != MsrAccess.ReadOnly;
}
