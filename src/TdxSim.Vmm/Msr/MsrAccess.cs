namespace TdxSim.Vmm.Msr;

/// <summary>What a guest may do with an MSR through TDG.VP.VMCALL&lt;Instruction.RDMSR/WRMSR&gt;. The other
/// direction fails with INVALID_OPERAND, as KVM's MSR filter turns a denied access into #GP.</summary>
public enum MsrAccess
{
    /// <summary>RDMSR and WRMSR.</summary>
    ReadWrite,

    /// <summary>RDMSR only.</summary>
    ReadOnly,

    /// <summary>WRMSR only.</summary>
    WriteOnly,
}

/// <summary>Whether each vCPU has its own copy of an MSR.</summary>
public enum MsrScope
{
    /// <summary>One value per vCPU (architecturally per logical processor, e.g. the x2APIC registers).</summary>
    Vcpu,

    /// <summary>One value shared by the whole TD.</summary>
    Vm,
}
