using TdxSim.Abi;

namespace TdxSim.Guest.Kernel;

/// <summary>What the guest kernel does next while handling a #VE.</summary>
public enum KernelStepKind
{
    /// <summary>Execute TDCALL with <see cref="KernelStep.Regs"/>; the reply continues the handler.</summary>
    Tdcall,

    /// <summary>The #VE is handled: return to the interrupted guest code (RIP already updated).</summary>
    Resume,

    /// <summary>The #VE cannot be handled: the guest is dead (<see cref="KernelStep.Detail"/> says why).</summary>
    Fatal,
}

/// <summary>One step of the guest kernel's #VE handler.</summary>
public readonly struct KernelStep
{
    private KernelStep(KernelStepKind kind, in Gprs regs, string? detail)
    {
        Kind = kind;
        Regs = regs;
        Detail = detail;
    }

    /// <summary>The kind of step.</summary>
    public KernelStepKind Kind { get; }

    /// <summary>For <see cref="KernelStepKind.Tdcall"/>: the registers the kernel hands to TDCALL.</summary>
    public Gprs Regs { get; }

    /// <summary>For <see cref="KernelStepKind.Fatal"/>: the diagnostic.</summary>
    public string? Detail { get; }

    /// <summary>A TDCALL step.</summary>
    public static KernelStep Tdcall(in Gprs regs) => new(KernelStepKind.Tdcall, regs, null);

    /// <summary>The handler finished.</summary>
    public static KernelStep Resume() => new(KernelStepKind.Resume, default, null);

    /// <summary>The handler failed.</summary>
    public static KernelStep Fatal(string detail) => new(KernelStepKind.Fatal, default, detail);
}
