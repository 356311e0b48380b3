namespace TdxSim.Cli.Inspect;

/// <summary>What <c>tdxsim inspect --by</c> groups events by (contract section 5).</summary>
public enum InspectKey
{
    /// <summary>TDVMCALL sub-function: one sample per TDVMCALL (TdVmcallRequested delivered to the VMM → TdVmcallCompleted delivered to the TDX module).</summary>
    Subfn,

    /// <summary>TDCALL leaf: one sample per TDCALL, including those of the #VE handler (TdcallRequested delivered to the module → TdcallCompleted delivered to the vCPU).</summary>
    Leaf,

    /// <summary>Exit reason: one sample per TD exit (TdExited delivered to the module → the last message of that request delivered to the vCPU).</summary>
    Reason,

    /// <summary>Port and direction of Instruction.IO TDVMCALLs (R14, R13); timed like <see cref="Subfn"/>.</summary>
    Port,

    /// <summary>GPA and direction of #VE.RequestMMIO TDVMCALLs (R14, or the VE info GPA; R13); timed like <see cref="Subfn"/>.</summary>
    Gpa,

    /// <summary>vCPU: one sample per guest-visible request (a TD exit or a paravirt TDCALL), from its first delivery to the vCPU's resumption.</summary>
    Vcpu,

    /// <summary>Receiving actor: messages, busy time, waits and queue per actor (from the log's <c>wait_ns</c> and <c>service_ns</c>).</summary>
    Actor,
}

/// <summary>Names of <see cref="InspectKey"/> values on the command line.</summary>
public static class InspectKeys
{
    /// <summary>The accepted <c>--by</c> values, in the order the help lists them.</summary>
    public static IReadOnlyList<string> Names { get; } = ["subfn", "leaf", "reason", "port", "gpa", "vcpu", "actor"];

    /// <summary>Parses a <c>--by</c> value (case-insensitive).</summary>
    public static bool TryParse(string? text, out InspectKey key)
    {
        key = (text ?? string.Empty).ToUpperInvariant() switch
        {
            "SUBFN" => InspectKey.Subfn,
            "LEAF" => InspectKey.Leaf,
            "REASON" => InspectKey.Reason,
            "PORT" => InspectKey.Port,
            "GPA" => InspectKey.Gpa,
            "VCPU" => InspectKey.Vcpu,
            "ACTOR" => InspectKey.Actor,
            _ => (InspectKey)(-1),
        };
        return Enum.IsDefined(key);
    }

    /// <summary>The command-line name of <paramref name="key"/>.</summary>
    public static string NameOf(InspectKey key) => Names[(int)key];
}
