using TdxSim.Abi;
using TdxSim.Abi.Messages;
using TdxSim.TdxModule.Tests.Support;

namespace TdxSim.TdxModule.Tests;

/// <summary>Several vCPUs driving one module core from their own threads.</summary>
public sealed class ConcurrencyTests
{
    [Fact]
    public void VcpusOnParallelThreads_KeepTheirOwnState()
    {
        const int Vcpus = 4;
        const int Rounds = 300;
        var h = new ModuleHarness(new TdxModuleOptions { NumVcpus = Vcpus });
        Parallel.For(0, Vcpus, new ParallelOptions { MaxDegreeOfParallelism = Vcpus }, vcpu =>
        {
            for (int i = 0; i < Rounds; i++)
            {
                TdEntered cpuid = h.Cpuid(vcpu, 1);
                Assert.Equal((ulong)vcpu, cpuid.Regs[Gpr.Rbx] >> 24);

                var io = new VeInfo(VeExitReason.IoInstruction, (ulong)((vcpu << 16) | i), 0, 0, 1, 0);
                Assert.Equal(TdEntryAction.VeInjected, h.Core.HandleTdExit(new TdExited(vcpu, io, default)).Action);
                TdcallCompleted info = h.Call(vcpu, (ulong)TdcallLeaf.VpVeinfoGet);
                Assert.Equal((ulong)((vcpu << 16) | i), info.Regs[Gpr.Rdx]);

                Gprs regs = default;
                regs[Gpr.Rcx] = TdVmcall.LinuxSelectMask;
                regs[Gpr.R12] = (ulong)((vcpu << 20) | i);
                TdVmcallRequested request = h.Tdcall(vcpu, regs).VmcallRequest!;
                Assert.Equal(regs[Gpr.R12], request.Regs[Gpr.R12]);
                Gprs answer = default;
                answer[Gpr.R11] = request.Regs[Gpr.R12] + 1;
                TdcallCompleted done = h.Core.CompleteVmcall(new TdVmcallCompleted(vcpu, 30, request.GprSelect, answer))!;
                Assert.Equal(regs[Gpr.R12] + 1, done.Regs[Gpr.R11]);
            }
        });

        Assert.Equal(Vcpus * Rounds, h.Core.Counters.VmcallsCompleted);
        Assert.Equal(Vcpus * Rounds, h.Core.Counters.Entry(TdEntryAction.VeInjected));
        Assert.Equal(0, h.Core.Counters.Entry(TdEntryAction.DoubleFaultInjected));
        Assert.Equal(Vcpus * Rounds, h.Core.Counters.Exit(VeExitReason.Cpuid));
    }
}
