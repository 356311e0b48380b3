using Iced.Intel;
using TdxSim.Abi;
using TdxSim.Images;
using TdxSim.Machine.Tests.Guests;
using static Iced.Intel.AssemblerRegisters;

namespace TdxSim.Machine.Tests.EndToEnd;

/// <summary>
/// How a TD ends when the guest does something it cannot survive (exit status 4, with a diagnostic naming the vCPU,
/// RIP, instruction bytes and reason), halts (0), or runs into a limit (6): contract section 2.
/// </summary>
public sealed class GuestFaultTests
{
    private static TdRun RunFatal(Action<Assembler> beforeFault, Action<Assembler> fault, out ulong rip, Func<Machine.Scenarios.Scenario, Machine.Scenarios.Scenario>? configure = null)
    {
        GuestProgram program = TdRunner.Assemble(b =>
        {
            beforeFault(b.Asm);
            b.Define("fault");
            fault(b.Asm);
            b.Asm.Success();
        });
        rip = program["fault"];
        TdRun run = TdRunner.Run(program, configure).AssertExit(4);
        Assert.Contains($"vCPU 0: RIP 0x{rip:x} (bytes ", run.Result.Detail, StringComparison.Ordinal);
        Assert.Equal("fatal", run.Result.Vcpus[0].State);
        Assert.Equal(rip, run.Result.Vcpus[0].Rip);
        return run;
    }

    /// <summary>The diagnostic is one clear line: the reason is not repeated.</summary>
    private static void AssertSaidOnce(string phrase, string detail)
    {
        int first = detail.IndexOf(phrase, StringComparison.Ordinal);
        Assert.True(first >= 0, $"'{phrase}' missing from: {detail}");
        Assert.True(detail.IndexOf(phrase, first + 1, StringComparison.Ordinal) < 0, $"'{phrase}' said twice in: {detail}");
    }

    [Fact]
    public void CliHlt_HaltsTheVcpuAndTheTdEndsWithStatus0()
    {
        TdRun run = TdRunner.Run(b => b.Asm.HaltForever()).AssertExit(0, "halted");

        Assert.Equal("halted", run.Result.Vcpus[0].State);
        Assert.Equal(1, run.Counter("vcpu0.ve.HLT"));
        Assert.Equal(1, run.Counter("vmm.tdvmcall.Instruction.HLT.halted"));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    public void CleanRun_LosesNoMessage_NoDeadLettersUnhandledMessagesFailuresOrUnexpectedReplies(int vcpus)
    {
        // "Nothing is silently dropped" (contract section 6): a TD that simply halts must not leave dead letters behind,
        // or the counter cannot tell a real loss from shutdown noise.
        TdRun run = TdRunner.Run(b => b.Asm.HaltForever(), vcpus: vcpus).AssertExit(0, "halted");

        Assert.Equal(0, run.Counter("runtime.unhandled"));
        Assert.Equal(0, run.Counter("runtime.failures"));
        Assert.Equal(0, run.Counter("runtime.dropped"));
        Assert.Equal(0, run.Counter("runtime.unexpected_replies"));
        Assert.Equal(0, run.Counter("runtime.dead_letters"));
    }

    [Fact]
    public void StiHlt_HltWithInterruptsEnabledIsRefusedByTheGuestKernel_GuestFatal()
    {
        TdRun run = RunFatal(a => a.sti(), a => a.hlt(), out _);

        Assert.Contains("HLT emulation with IRQs enabled", run.Result.Detail, StringComparison.Ordinal);
        Assert.Contains("bytes f4", run.Result.Detail, StringComparison.Ordinal);
        Assert.Equal(0, run.Counter("vmm.tdvmcall.Instruction.HLT.halted"));
    }

    [Fact]
    public void Ud2_IsGuestFatal()
    {
        TdRun run = RunFatal(_ => { }, a => a.ud2(), out _);

        Assert.Contains("bytes 0f0b", run.Result.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public void DivideByZero_IsGuestFatal()
    {
        TdRun run = RunFatal(
            a =>
            {
                a.mov(eax, 10);
                a.xor(edx, edx);
                a.xor(ecx, ecx);
            },
            a => a.div(ecx),
            out _);

        Assert.Contains("bytes f7f1", run.Result.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public void Wbinvd_IsNotEmulatedByThisCpu_GuestFatal()
    {
        // The TDX module would #VE WBINVD; TdxSim's interpreter does not implement it and raises #UD, which is fatal
        // either way (Linux's #VE handler does not handle WBINVD either: "Unexpected #VE").
        TdRun run = RunFatal(_ => { }, a => a.wbinvd(), out _);

        Assert.Contains("bytes 0f09", run.Result.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public void PrivateAccessOutsidePrivateMemory_IsAnEptViolationOnPrivateMemory_GuestFatal()
    {
        TdRun run = RunFatal(
            a => a.mov(rdi, TdRunner.DefaultMemory + 0x1000),
            a => a.mov(rax, __qword_ptr[rdi]),
            out _);

        Assert.Contains($"0x{TdRunner.DefaultMemory + 0x1000:x}", run.Result.Detail, StringComparison.Ordinal);
        AssertSaidOnce("EPT violation on private memory", run.Result.Detail);
    }

    [Fact]
    public void PrivateAccessToAPageConvertedToShared_IsGuestFatal()
    {
        TdRun run = RunFatal(
            a =>
            {
                a.Tdvmcall(TdVmcallSubfunction.MapGpa, GuestAsm.SharedBit | GuestAsm.DataPage, 0x1000);
                a.FatalUnlessSuccess();
                a.mov(rdi, GuestAsm.DataPage);
            },
            a => a.mov(rax, __qword_ptr[rdi]),
            out _);

        // The interpreter finds the page converted and stops the vCPU before the module is asked.
        Assert.Contains("the page was converted to shared", run.Result.Detail, StringComparison.Ordinal);
        Assert.Contains($"GPA 0x{GuestAsm.DataPage:x}", run.Result.Detail, StringComparison.Ordinal);
        AssertSaidOnce("EPT violation on private memory", run.Result.Detail);
    }

    [Fact]
    public void PendingPageWithSeptVeDisable_KillsTheTdInsteadOfRaisingVe()
    {
        // Lazy acceptance leaves everything but the image pending; with SEPT_VE_DISABLE the TDX module does not
        // convert the EPT violation into #VE (reference 4.4), so the guest kernel never sees it.
        TdRun run = RunFatal(
            a => a.mov(rdi, GuestAsm.DataPage),
            a => a.mov(rax, __qword_ptr[rdi]),
            out _,
            s => s with { LazyAccept = true, TdAttributes = TdAttributes.SeptVeDisable });

        Assert.Contains("the TD was killed", run.Result.Detail, StringComparison.Ordinal);
        Assert.Equal(0, run.Counter("vcpu0.ve.EPT_VIOLATION"));
    }

    [Fact]
    public void PendingPageWithoutLazyAcceptInTheKernel_IsOnlyAcceptedByVe_SoAnAcceptedPageNeverFaults()
    {
        // Control for the test above: the same access with SEPT_VE_DISABLE clear is accepted on its #VE.
        TdRun run = TdRunner.Run(
            b =>
            {
                Assembler a = b.Asm;
                a.mov(rdi, GuestAsm.DataPage);
                a.mov(rax, __qword_ptr[rdi]);
                a.Report64(rax);
                a.Success();
            },
            s => s with { LazyAccept = true }).AssertExit(0);

        Assert.Equal([0UL], run.Reports64);
        Assert.True(run.Counter("vcpu0.ve.EPT_VIOLATION") >= 2, "the data page and the stack page are accepted on their #VEs");
    }

    [Fact]
    public void InfiniteLoop_ReachesTheInstructionLimit_Status6AfterExactlyThatManyInstructions()
    {
        TdRun run = TdRunner.Run(
            b =>
            {
                Label spin = b.Asm.CreateLabel();
                b.Asm.Label(ref spin);
                b.Asm.jmp(spin);
            },
            s => s with { MaxInstructions = 123_457 }).AssertExit(6, "instruction-limit");

        Assert.Equal(123_457UL, run.Result.Vcpus[0].Instructions);
        Assert.Equal("limit", run.Result.Vcpus[0].State);
        Assert.Contains("vCPU 0 reached its instruction limit of 123457", run.Result.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public void InfiniteLoop_WithOnlyATimeLimit_EndsWithStatus6()
    {
        TdRun run = TdRunner.Run(
            b =>
            {
                Label spin = b.Asm.CreateLabel();
                b.Asm.Label(ref spin);
                b.Asm.jmp(spin);
            },
            s => s with { MaxInstructions = null, TimeLimitMs = 50 }).AssertExit(6, "time-limit");

        Assert.Equal("running", run.Result.Vcpus[0].State);
        Assert.True(run.Result.Vcpus[0].Instructions > 0);
    }

    [Fact]
    public void InfiniteLoop_UnderTheDeterministicDispatcher_WithATimeLimitInVirtualTime_EndsWithStatus6()
    {
        TdRun run = TdRunner.Run(
            b =>
            {
                Label spin = b.Asm.CreateLabel();
                b.Asm.Label(ref spin);
                b.Asm.jmp(spin);
            },
            s => s with { MaxInstructions = null, TimeLimitMs = 1, Deterministic = true }).AssertExit(6, "time-limit");

        Assert.True(run.Result.VirtualNanoseconds >= 1_000_000, $"virtual time {run.Result.VirtualNanoseconds} ns is below the 1 ms limit");
    }
}
