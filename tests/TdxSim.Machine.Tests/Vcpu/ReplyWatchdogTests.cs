using Iced.Intel;
using TdxSim.Abi;
using TdxSim.Abi.Messages;
using Akka.Actor;
using Akka.TestKit;
using TdxSim.Guest;
using TdxSim.Guest.Diagnostics;
using TdxSim.Guest.Kernel;
using TdxSim.Images;
using TdxSim.Machine.Scenarios;
using TdxSim.Machine.Tests.Guests;
using TdxSim.Memory;
using TdxSim.Runtime.TestKit;
using static Iced.Intel.AssemblerRegisters;

namespace TdxSim.Machine.Tests.Vcpu;

/// <summary>
/// Nothing waits for ever: a vCPU whose TDCALL or TD exit is never answered reports an internal error when the
/// machine's watchdog asks, unless it is halted (then waiting is what it should do).
/// </summary>
public sealed class ReplyWatchdogTests : TdxTestKit, IDisposable
{
    private const ulong CodeGpa = 0x1000;
    private readonly GuestPhysicalMemory _memory = new(1 << 20);
    private readonly TestProbe _module;
    private readonly TestProbe _machine;

    public ReplyWatchdogTests()
    {
        _module = CreateTestProbe("tdx-module");
        _machine = CreateTestProbe("machine");
    }

    [Fact]
    public void UnansweredGuestTdcall_IsAnInternalErrorNamingTheLeaf_OnceOlderThanTheLimit()
    {
        IActorRef vcpu = StartVcpu(a =>
        {
            a.mov(eax, 1);  // TDG.VP.INFO
            a.tdcall();
            a.hlt();
        });
        _module.ExpectMsg<TdcallRequested>();

        // Younger than the limit: nothing happens.
        vcpu.Tell(new CheckReplyWait(0, LongerThanNs: 3_600_000_000_000), _machine.Ref);
        _machine.ExpectNoMsg(TimeSpan.FromMilliseconds(100));

        vcpu.Tell(new CheckReplyWait(0, LongerThanNs: 0), _machine.Ref);
        GuestStopRequested stop = _machine.ExpectMsg<GuestStopRequested>();
        Assert.Equal(GuestStopKind.InternalError, stop.Kind);
        Assert.Contains("vCPU 0 has waited", stop.Detail, StringComparison.Ordinal);
        Assert.Contains("TDG.VP.INFO", stop.Detail, StringComparison.Ordinal);
        Assert.Contains("RIP 0x1005", stop.Detail, StringComparison.Ordinal);

        // Reported once: the vCPU is dead now.
        vcpu.Tell(new CheckReplyWait(0, LongerThanNs: 0), _machine.Ref);
        _machine.ExpectNoMsg(TimeSpan.FromMilliseconds(100));
    }

    [Fact]
    public void UnansweredTdExit_IsAnInternalError()
    {
        IActorRef vcpu = StartVcpu(a =>
        {
            a.mov(eax, 0x4000_0000);
            a.cpuid();  // a TD exit the module would answer with a #VE
            a.hlt();
        });
        _module.ExpectMsg<TdExited>();

        vcpu.Tell(new CheckReplyWait(0, LongerThanNs: 0), _machine.Ref);
        GuestStopRequested stop = _machine.ExpectMsg<GuestStopRequested>();
        Assert.Equal(GuestStopKind.InternalError, stop.Kind);
        Assert.Contains("a TD exit", stop.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public void UnrolledRepOuts_LongerThanTheLimit_IsNotAStall_WhileEachElementIsAnsweredInTime()
    {
        // One #VE, one TDVMCALL<Instruction.IO> per element: the watchdog times the request in flight, not the #VE
        // (a guest's long REP OUTSB used to end the run as an internal error once the #VE was older than the limit).
        IActorRef vcpu = StartVcpu(
            a =>
            {
                a.mov(edx, 0x80);
                a.mov(esi, 0x2000);
                a.mov(ecx, 3);
                a.rep.outsb();
                a.hlt();
            },
            GuestKernelOptions.Default with { UnrollStringIo = true });
        TdExited exit = _module.ExpectMsg<TdExited>();
        _module.Reply(new TdEntered(0, TdEntryAction.VeInjected, exit.Exit, 0, default));
        TdcallRequested veinfo = _module.ExpectMsg<TdcallRequested>();
        Assert.Equal((ulong)TdcallLeaf.VpVeinfoGet, veinfo.Regs[Gpr.Rax]);
        Gprs info = default;
        info[Gpr.Rcx] = (ulong)exit.Exit.ExitReason;
        info[Gpr.Rdx] = exit.Exit.ExitQualification;
        info[Gpr.R10] = exit.Exit.InstructionLength;
        _module.Reply(new TdcallCompleted(0, (ushort)TdcallLeaf.VpVeinfoGet, GprMask.Rax | GprMask.Rcx | GprMask.Rdx | GprMask.R8 | GprMask.R9 | GprMask.R10, info));

        Assert.Equal((ulong)TdVmcallSubfunction.InstructionIo, _module.ExpectMsg<TdcallRequested>().Regs[Gpr.R11]);
        Thread.Sleep(300);
        _module.Reply(new TdcallCompleted(0, (ushort)TdcallLeaf.VpVmcall, GprMask.Rax | GprMask.R10 | GprMask.R11, default));
        Assert.Equal((ulong)TdVmcallSubfunction.InstructionIo, _module.ExpectMsg<TdcallRequested>().Regs[Gpr.R11]);

        // The #VE is 300 ms old; the second element's request was just sent.
        vcpu.Tell(new CheckReplyWait(0, LongerThanNs: 200_000_000), _machine.Ref);
        _machine.ExpectNoMsg(TimeSpan.FromMilliseconds(100));
    }

    [Fact]
    public void HaltedInTdvmcallHlt_IsNotAStall()
    {
        IActorRef vcpu = StartVcpu(a =>
        {
            // TDG.VP.VMCALL<Instruction.HLT>, interrupts enabled: the host wakes it, or never does.
            a.xor(eax, eax);
            a.mov(ecx, GprMask.R10 | GprMask.R11 | GprMask.R12);
            a.xor(r10d, r10d);
            a.mov(r11d, (uint)TdVmcallSubfunction.InstructionHlt);
            a.xor(r12d, r12d);
            a.tdcall();
            a.hlt();
        });
        _module.ExpectMsg<TdcallRequested>();

        vcpu.Tell(new CheckReplyWait(0, LongerThanNs: 0), _machine.Ref);
        _machine.ExpectNoMsg(TimeSpan.FromMilliseconds(200));
    }

    [Fact]
    public void RunningVcpu_IsNotAStall()
    {
        IActorRef vcpu = StartVcpu(a =>
        {
            Label spin = a.CreateLabel();
            a.Label(ref spin);
            a.pause();
            a.jmp(spin);
        });

        vcpu.Tell(new CheckReplyWait(0, LongerThanNs: 0), _machine.Ref);
        _machine.ExpectNoMsg(TimeSpan.FromMilliseconds(200));
        _module.ExpectNoMsg(TimeSpan.FromMilliseconds(10));
    }

    [Fact]
    public void WholeTd_HaltedLongerThanTheReplyTimeout_StillEndsNormally()
    {
        // TDVMCALL<HLT> with interrupts enabled, woken by the host after 1.3 s; the watchdog (100 ms limit, a tick
        // per second) sees a halted vCPU and leaves it alone.
        TdRun run = TdRunner.Run(
            b =>
            {
                Assembler a = b.Asm;
                a.Tdvmcall(TdVmcallSubfunction.InstructionHlt, 0);
                a.FatalUnlessSuccess();
                a.Success();
            },
            s => s with { ReplyTimeoutMs = 100, VmmSettings = new VmmSettings { HltWakeNs = 1_300_000_000 } });

        run.AssertExit(0, "selftest-success");
        Assert.True(run.Result.Elapsed >= TimeSpan.FromMilliseconds(1300), $"woke after {run.Result.Elapsed.TotalMilliseconds} ms");
    }

    protected override void Dispose(bool disposing)
    {
        base.Dispose(disposing);
        if (disposing)
        {
            _memory.Dispose();
        }
    }

    private IActorRef StartVcpu(Action<Assembler> emit, GuestKernelOptions? kernel = null)
    {
        GuestProgram program = GuestProgram.Assemble(CodeGpa, emit);
        Assert.True(_memory.TryWritePrivate(CodeGpa, program.Code));
        var cpu = new Cpu.Cpu(_memory, 0);
        cpu.State.Rip = CodeGpa;
        cpu.State.Rflags = Cpu.CpuState.ResetRflags;
        cpu.State.Gpr[Gpr.Rsp] = 0x8_0000;
        var setup = new VcpuSetup(0, cpu, _module.Ref, _machine.Ref, kernel ?? GuestKernelOptions.Default, null, 20_000, new VcpuStatistics());
        IActorRef vcpu = Sys.ActorOf(VcpuActor.Props(setup), "vcpu-0");
        vcpu.Tell(new StartVcpu(0), _machine.Ref);
        return vcpu;
    }
}
