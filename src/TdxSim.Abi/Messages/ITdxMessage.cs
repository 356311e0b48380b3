namespace TdxSim.Abi.Messages;

/// <summary>
/// What every message between vCPUs, the TDX module and the VMM tells the message log
/// (contract section 6). Implementations compute the fields from their immutable payload;
/// the log writer calls these without reflection.
/// </summary>
public interface ITdxMessage
{
    /// <summary>The vCPU the message concerns.</summary>
    int Vcpu { get; }

    /// <summary>TDCALL leaf spec name, where it applies.</summary>
    string? Leaf => null;

    /// <summary>TDVMCALL sub-function GHCI name, where it applies.</summary>
    string? Subfn => null;

    /// <summary>#VE / TD-exit reason name, where it applies.</summary>
    string? Reason => null;

    /// <summary>Completion status, on replies.</summary>
    ulong? Status => null;

    /// <summary>The hostile-host fault this message carries or reports (<c>TdxSim.Abi.Faults.HostFaultNames</c>), or null.</summary>
    string? Fault => null;

    /// <summary>The registers the receiver may see (bit n = <see cref="Gpr"/> n).</summary>
    ushort VisibleRegisters => 0;

    /// <summary>Register values; only those in <see cref="VisibleRegisters"/> are meaningful.</summary>
    Gprs Registers => default;
}
