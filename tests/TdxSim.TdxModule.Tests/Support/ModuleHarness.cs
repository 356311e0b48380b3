using TdxSim.Abi;
using TdxSim.Abi.Messages;
using TdxSim.TdxModule.Memory;

namespace TdxSim.TdxModule.Tests.Support;

/// <summary>A module core over a fake memory, with helpers that build TDCALLs and TD exits.</summary>
internal sealed class ModuleHarness
{
    public const ulong DefaultMemory = 8UL << 20;

    public ModuleHarness(TdxModuleOptions? options = null, ulong memorySize = DefaultMemory, TdPageState initial = TdPageState.Accepted)
    {
        Memory = new FakeTdMemory(memorySize, initial);
        Core = new TdxModuleCore(options ?? new TdxModuleOptions { NumVcpus = 2 }, Memory);
    }

    public FakeTdMemory Memory { get; }

    public TdxModuleCore Core { get; }

    public static ulong Rax(TdcallLeaf leaf, byte version = 0) => (ulong)leaf | ((ulong)version << 16);

    public static Gprs Regs(params (Gpr Reg, ulong Value)[] values)
    {
        Gprs regs = default;
        foreach ((Gpr reg, ulong value) in values)
        {
            regs[reg] = value;
        }

        return regs;
    }

    /// <summary>Sets every register to a distinct recognizable value (0x1100 + 0x11 * n).</summary>
    public static Gprs Distinct()
    {
        Gprs regs = default;
        for (int i = 0; i < Gprs.Count; i++)
        {
            regs[i] = 0xA5A5_0000_0000_1100UL + (0x11UL * (ulong)i);
        }

        return regs;
    }

    public TdcallOutcome Tdcall(int vcpu, Gprs regs) => Core.HandleTdcall(new TdcallRequested(vcpu, regs));

    /// <summary>A TDCALL that must complete; returns the completion.</summary>
    public TdcallCompleted Call(int vcpu, ulong rax, ulong rcx = 0, ulong rdx = 0, ulong r8 = 0, ulong r9 = 0)
    {
        TdcallOutcome outcome = Tdcall(vcpu, Regs((Gpr.Rax, rax), (Gpr.Rcx, rcx), (Gpr.Rdx, rdx), (Gpr.R8, r8), (Gpr.R9, r9)));
        Assert.Equal(TdcallOutcomeKind.Completed, outcome.Kind);
        Assert.NotNull(outcome.Completion);
        Assert.Equal(vcpu, outcome.Completion.Vcpu);
        return outcome.Completion;
    }

    public TdcallOutcome Outcome(int vcpu, ulong rax, ulong rcx = 0, ulong rdx = 0, ulong r8 = 0, ulong r9 = 0)
        => Tdcall(vcpu, Regs((Gpr.Rax, rax), (Gpr.Rcx, rcx), (Gpr.Rdx, rdx), (Gpr.R8, r8), (Gpr.R9, r9)));

    public TdEntered Exit(int vcpu, VeExitReason reason, Gprs regs = default, ulong qualification = 0, ulong gpa = 0, uint length = 0)
        => Core.HandleTdExit(new TdExited(vcpu, new VeInfo(reason, qualification, 0, gpa, length, 0), regs));

    public TdEntered Cpuid(int vcpu, uint leaf, uint subleaf = 0)
        => Exit(vcpu, VeExitReason.Cpuid, Regs((Gpr.Rax, leaf), (Gpr.Rcx, subleaf)), length: 2);

    public TdEntered Rdmsr(int vcpu, uint msr) => Exit(vcpu, VeExitReason.MsrRead, Regs((Gpr.Rcx, msr)), length: 2);

    public TdEntered Wrmsr(int vcpu, uint msr, ulong value)
        => Exit(vcpu, VeExitReason.MsrWrite, Regs((Gpr.Rcx, msr), (Gpr.Rax, (uint)value), (Gpr.Rdx, value >> 32)), length: 2);

    /// <summary>An HLT #VE: the simplest way to make VE info valid on a vCPU.</summary>
    public TdEntered Hlt(int vcpu) => Exit(vcpu, VeExitReason.Hlt, length: 1);

    public static ulong MsrValue(TdEntered entry) => (entry.Regs[Gpr.Rdx] << 32) | (uint)entry.Regs[Gpr.Rax];
}
