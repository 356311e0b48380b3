using System.Collections.Immutable;
using System.Security.Cryptography;
using Iced.Intel;
using TdxSim.Abi;
using TdxSim.Abi.HostApi;
using TdxSim.Abi.Messages;
using TdxSim.Images;
using TdxSim.Machine.Audit;
using TdxSim.Machine.Scenarios;
using TdxSim.Machine.Tests.Guests;
using TdxSim.Memory;
using TdxSim.Vmm.HostApi;
using TdxSim.Vmm.Memory;
using static Iced.Intel.AssemblerRegisters;

namespace TdxSim.Machine.Tests.HostApi;

/// <summary>
/// The host API over live vCPUs (seed 004): every call on every VM type, made by the VMM on a running machine while
/// vCPU 0 waits in an exit to the VMM (an OUT to the doorbell port). An allowed call reads or changes the vCPU's real
/// state (the guest reports what it computes after the exit); a refused call comes back from the machine with KVM's
/// reason, and the guest's registers, its reports and its memory are exactly those of a run without host calls.
/// </summary>
public sealed class LiveHostApiTests
{
    private const ushort Doorbell = GuestAsm.UartScratch;
    private const ulong RaxAtDoorbell = 0x1111_2222_3333_4442; // AL = 0x42 is the byte written to the doorbell
    private const ulong RbxAtDoorbell = 0x5555;
    private const ulong XmmPattern = 0x0123_4567_89AB_CDEF;
    private const ulong Dr0AtDoorbell = 0xDEAD_0000;
    private const ulong HostRbx = 0xB0B0;
    private const ulong HostXmm1 = 0xFEED_FACE_CAFE_BEEF;
    private const ulong HostDr1 = 0xBEEF_0000;
    private const ulong HostTscOffset = 1UL << 40;
    private const ulong FastTscKhz = 4_000_000;
    private const ulong Cr4Osxsave = 1UL << 18;
    private const ulong GuestCr4 = Cpu.CpuState.LongModeCr4 | Cr4Osxsave;

    // Reports after the doorbell, 64-bit each.
    private const int ReportRbx = 0, ReportCr4 = 1, ReportXmm1 = 2, ReportDr1 = 3, ReportTsc = 4, ReportTscDelta = 5;

    // Columns: legacy, sev-es, tdx. 'y' = allowed, 'n' = refused with -EINVAL. Written from seed 004, not from the policy.
    private static readonly (HostCall Call, string Allowed)[] Table =
    [
        (HostCall.GetRegs, "ynn"), (HostCall.SetRegs, "ynn"), (HostCall.GetSregs, "ynn"), (HostCall.SetSregs, "ynn"),
        (HostCall.GetFpu, "ynn"), (HostCall.SetFpu, "ynn"), (HostCall.GetXsave, "ynn"), (HostCall.SetXsave, "ynn"),
        (HostCall.GetXcrs, "ynn"), (HostCall.SetXcrs, "ynn"), (HostCall.GetDebugRegs, "ynn"), (HostCall.SetDebugRegs, "ynn"),
        (HostCall.GetMpState, "yyn"), (HostCall.SetMpState, "yyn"), (HostCall.Interrupt, "yyn"), (HostCall.LevelInterrupt, "yyn"),
        (HostCall.PostedInterrupt, "yyy"), (HostCall.Nmi, "yyy"), (HostCall.Smi, "ynn"), (HostCall.SetupMce, "yyn"),
        (HostCall.SetMce, "yyn"), (HostCall.SetGuestDebug, "ynn"), (HostCall.GetTscKhz, "yyy"), (HostCall.SetTscKhz, "yyn"),
        (HostCall.SetTscOffset, "yyn"), (HostCall.ReadOnlyMemory, "ynn"), (HostCall.PrivateMemoryAttribute, "nny"),
    ];

    private static readonly Lazy<GuestProgram> Program = new(BuildGuest);
    private static readonly Lazy<Outcome> Baseline = new(() => RunLive(VmType.Tdx, null));

    public static TheoryData<HostCall, VmType, bool> Matrix()
    {
        var data = new TheoryData<HostCall, VmType, bool>();
        foreach ((HostCall call, string allowed) in Table)
        {
            for (int t = 0; t < 3; t++)
            {
                data.Add(call, (VmType)t, allowed[t] == 'y');
            }
        }

        return data;
    }

    [Fact]
    public void TheTableCoversEveryCall() => Assert.Equal(Enum.GetValues<HostCall>().Order(), Table.Select(t => t.Call).Order());

    [Fact]
    public void Baseline_TheGuestReportsItsOwnValues()
    {
        Outcome b = Baseline.Value;
        Assert.Equal(RbxAtDoorbell, b.Reports[ReportRbx]);
        Assert.Equal(GuestCr4, b.Reports[ReportCr4]);
        Assert.Equal(0UL, b.Reports[ReportXmm1]);
        Assert.Equal(0UL, b.Reports[ReportDr1]);
        Assert.True(b.Reports[ReportTsc] is > 0 and < HostTscOffset);
        Assert.True(b.Reports[ReportTscDelta] > 0);
        Assert.Empty(b.Completions);
    }

    [Theory]
    [MemberData(nameof(Matrix))]
    public void EveryCallOnEveryVmType_OnALiveMachine(HostCall call, VmType type, bool allowed)
    {
        Outcome run = RunLive(type, Script(call, type, allowed));
        Assert.True(run.Result.ExitStatus == ExitStatus.Success, $"{call} on {type}: exit {run.Result.ExitStatus} ({run.Result.Reason}: {run.Result.Detail})");
        Assert.NotEmpty(run.Completions);
        HostVcpuCallCompleted mine = run.Completions.Last(c => c.Call == call);
        Outcome baseline = Baseline.Value;

        if (!allowed)
        {
            Assert.Equal(HostCallResult.Einval, mine.Errno);
            Assert.StartsWith(HostVcpuApi.Name(call), mine.Reason, StringComparison.Ordinal);
            Assert.Same(HostVcpuData.None, mine.Data); // nothing of the guest comes back with a refusal

            // The guest never noticed: same memory before and after the call, same final registers, same reports.
            Assert.Equal(run.MemoryBefore, run.MemoryAfter);
            VcpuFinalState got = run.Result.Vcpus[0], want = baseline.Result.Vcpus[0];
            Assert.Equal(want.Regs, got.Regs);
            Assert.Equal((want.Rip, want.Rflags, want.Instructions), (got.Rip, got.Rflags, got.Instructions));
            Assert.Equal(baseline.Reports, run.Reports);
            return;
        }

        Assert.True(mine.Succeeded, $"{call} on {type}: {mine.Reason}");
        CheckEffect(call, type, run, baseline, mine);
    }

    [Fact]
    public void Legacy_GetRegs_ReturnsTheVcpusRealRipAndRax()
    {
        Outcome run = RunLive(VmType.Legacy, Script(HostCall.GetRegs, VmType.Legacy, allowed: true));
        HostVcpuCallCompleted c = Assert.Single(run.Completions);
        Assert.Equal(Program.Value["doorbell"], c.Data.Rip);
        Assert.Equal(RaxAtDoorbell, c.Data.Regs[Gpr.Rax]);
        Assert.Equal(RbxAtDoorbell, c.Data.Regs[Gpr.Rbx]);
        Assert.Equal((ulong)Doorbell, c.Data.Regs[Gpr.Rdx]);
    }

    [Fact]
    public void Legacy_SetRegs_ChangesWhatTheGuestComputes()
    {
        Outcome run = RunLive(VmType.Legacy, Script(HostCall.SetRegs, VmType.Legacy, allowed: true));
        Assert.Equal(HostRbx, run.Reports[ReportRbx]);
        Assert.Equal(RbxAtDoorbell, Baseline.Value.Reports[ReportRbx]);
    }

    [Fact]
    public void Tdx_GetRegs_IsRefusedByTheRunningMachine_AndNoRegisterReachesTheVmm()
    {
        Outcome run = RunLive(VmType.Tdx, Script(HostCall.GetRegs, VmType.Tdx, allowed: false));
        HostVcpuCallCompleted c = Assert.Single(run.Completions);
        Assert.Equal("KVM_GET_REGS: the guest's state is protected (guest_state_protected)", c.Reason);
        Assert.Equal(0, ((ITdxMessage)c).VisibleRegisters);
        Assert.Equal(default, c.Data.Regs);
    }

    private static void CheckEffect(HostCall call, VmType type, Outcome run, Outcome baseline, HostVcpuCallCompleted c)
    {
        HostVcpuData d = c.Data;
        switch (call)
        {
            case HostCall.GetRegs:
                Assert.Equal(Program.Value["doorbell"], d.Rip);
                Assert.Equal(RaxAtDoorbell, d.Regs[Gpr.Rax]);
                break;
            case HostCall.SetRegs:
                Assert.Equal(HostRbx, d.Regs[Gpr.Rbx]);
                Assert.Equal(HostRbx, run.Reports[ReportRbx]);
                break;
            case HostCall.GetSregs:
                Assert.Equal((Cpu.CpuState.LongModeCr0, GuestCr4, Cpu.CpuState.LongModeEfer), (d.Cr0, d.Cr4, d.Efer));
                break;
            case HostCall.SetSregs:
                Assert.Equal(GuestCr4 | 0x200, d.Cr4);
                Assert.Equal(GuestCr4 | 0x200, run.Reports[ReportCr4]);
                break;
            case HostCall.GetFpu or HostCall.GetXsave:
                Assert.Equal(call == HostCall.GetXsave ? 576 : 512, d.Fpu.Length);
                Assert.Equal(XmmPattern, Le64(d.Fpu, 160));
                Assert.Equal(XmmPattern, Le64(d.Fpu, 168));
                Assert.Equal(0x37FUL, Le64(d.Fpu, 0) & 0xFFFF);
                Assert.Equal(0x1F80UL, Le64(d.Fpu, 24) & 0xFFFF_FFFF);
                if (call == HostCall.GetXsave)
                {
                    Assert.Equal(3, d.Fpu[512]); // XSTATE_BV: x87 and SSE, as XCR0
                }
                break;
            case HostCall.SetFpu or HostCall.SetXsave:
                Assert.Equal(HostXmm1, Le64(d.Fpu, 176));
                Assert.Equal(HostXmm1, run.Reports[ReportXmm1]);
                break;
            case HostCall.GetXcrs:
                Assert.Equal(3UL, d.Xcr0); // the guest's XSETBV
                break;
            case HostCall.SetXcrs:
                Assert.Equal(7UL, d.Xcr0);
                Assert.Equal(7UL, run.Completions[^1].Data.Xcr0); // read back
                break;
            case HostCall.GetDebugRegs:
                Assert.Equal(Dr0AtDoorbell, d.DebugRegs[0]);
                break;
            case HostCall.SetDebugRegs:
                Assert.Equal(HostDr1, d.DebugRegs[1]);
                Assert.Equal(HostDr1, run.Reports[ReportDr1]);
                break;
            case HostCall.GetMpState:
                Assert.Equal(MpState.Runnable, d.MpState); // waiting in an exit is runnable
                break;
            case HostCall.SetMpState:
                Assert.Equal(new[] { MpState.Halted, MpState.Halted, MpState.Runnable, MpState.Runnable }, run.Completions.Select(x => x.Data.MpState));
                break;
            case HostCall.Interrupt:
                Assert.Equal(new byte[] { 0x30 }, d.Events!.Interrupts.ToArray());
                break;
            case HostCall.LevelInterrupt:
                Assert.Equal(new byte[] { 0x31 }, d.Events!.LevelInterrupts.ToArray());
                break;
            case HostCall.PostedInterrupt:
                Assert.Equal(1UL << 0x32, d.Events!.PostedInterruptRequests[0]);

                // And it reached the vCPU's virtual APIC (VIRR), where the guest's IDT takes it when IF allows.
                Assert.Equal(0x32, d.Events.HighestRequestedVector);
                Assert.Empty(d.Events.Interrupts);
                break;
            case HostCall.Nmi:
                Assert.Equal(type == VmType.Tdx ? 1 : 2, d.Events!.PendingNmis); // a TD's NMIs collapse into PEND_NMI
                break;
            case HostCall.Smi:
                Assert.Equal(1, d.Events!.PendingSmis);
                break;
            case HostCall.SetupMce:
                Assert.Equal(10, d.Events!.McgBanks);
                break;
            case HostCall.SetMce:
                Assert.Equal(1, d.Events!.InjectedMces);
                break;
            case HostCall.SetGuestDebug:
                Assert.Equal(1UL, d.Value);
                break;
            case HostCall.GetTscKhz:
                Assert.Equal(2_000_000UL, d.Value);
                Assert.True(d.Tsc > 0 && d.Tsc < baseline.Reports[ReportTsc]);
                break;
            case HostCall.SetTscKhz:
                Assert.Equal(FastTscKhz, d.Value);
                Assert.Equal(2 * baseline.Reports[ReportTscDelta], run.Reports[ReportTscDelta]);
                break;
            case HostCall.SetTscOffset:
                Assert.Equal(baseline.Reports[ReportTsc] + HostTscOffset, run.Reports[ReportTsc]);
                break;
            case HostCall.ReadOnlyMemory or HostCall.PrivateMemoryAttribute:
                Assert.Equal((GuestAsm.DataPage, 4096UL), (d.Value, d.Size));
                break;
            default:
                Assert.Fail($"no check for {call}");
                break;
        }
    }

    /// <summary>The calls of one cell: for a refused cell, values that would wreck the guest if they were applied.</summary>
    private static Func<HostVcpuCallCompleted?, int, HostVcpuCall?> Script(HostCall call, VmType type, bool allowed)
    {
        long id = 0;
        HostVcpuCall Make(HostCall c, HostVcpuData? data = null) => new(0, c, ++id, data ?? HostVcpuData.None);
        HostVcpuCall? Once(int step, HostVcpuCall c) => step == 0 ? c : null;
        byte[] wreck = [.. Enumerable.Repeat((byte)0xFF, 576)];
        return (prev, step) => call switch
        {
            HostCall.GetRegs or HostCall.GetSregs or HostCall.GetFpu or HostCall.GetXsave or HostCall.GetXcrs or HostCall.GetDebugRegs
                or HostCall.GetMpState or HostCall.Smi or HostCall.GetTscKhz => Once(step, Make(call)),
            HostCall.SetRegs when !allowed => Once(step, Make(call, new HostVcpuData { Rip = 0 })),
            HostCall.SetRegs => step switch
            {
                0 => Make(HostCall.GetRegs),
                1 => Make(call, prev!.Data with { Regs = WithRbx(prev.Data.Regs, HostRbx) }),
                _ => null,
            },
            HostCall.SetSregs when !allowed => Once(step, Make(call, HostVcpuData.None)),
            HostCall.SetSregs => step switch
            {
                0 => Make(HostCall.GetSregs),
                1 => Make(call, prev!.Data with { Cr4 = prev.Data.Cr4 | 0x200 }),
                _ => null,
            },
            HostCall.SetFpu or HostCall.SetXsave when !allowed => Once(step, Make(call, new HostVcpuData { Fpu = [.. wreck] })),
            HostCall.SetFpu or HostCall.SetXsave => step switch
            {
                0 => Make(call == HostCall.SetFpu ? HostCall.GetFpu : HostCall.GetXsave),
                1 => Make(call, new HostVcpuData { Fpu = WithQword(prev!.Data.Fpu, 176, HostXmm1) }),
                _ => null,
            },
            HostCall.SetXcrs => step switch
            {
                0 => Make(call, new HostVcpuData { Xcr0 = 7 }),
                1 when allowed => Make(HostCall.GetXcrs),
                _ => null,
            },
            HostCall.SetDebugRegs when !allowed => Once(step, Make(call, new HostVcpuData { DebugRegs = [1, 2, 3, 4, 5, 6] })),
            HostCall.SetDebugRegs => step switch
            {
                0 => Make(HostCall.GetDebugRegs),
                1 => Make(call, new HostVcpuData { DebugRegs = prev!.Data.DebugRegs.SetItem(1, HostDr1) }),
                _ => null,
            },
            HostCall.SetMpState when !allowed => Once(step, Make(call, new HostVcpuData { MpState = MpState.Halted })),
            HostCall.SetMpState => step switch
            {
                0 => Make(call, new HostVcpuData { MpState = MpState.Halted }),
                1 => Make(HostCall.GetMpState),
                2 => Make(call, new HostVcpuData { MpState = MpState.Runnable }),
                3 => Make(HostCall.GetMpState),
                _ => null,
            },
            HostCall.Interrupt => Once(step, Make(call, new HostVcpuData { Vector = 0x30 })),
            HostCall.LevelInterrupt => Once(step, Make(call, new HostVcpuData { Vector = 0x31 })),
            HostCall.PostedInterrupt => Once(step, Make(call, new HostVcpuData { Vector = 0x32 })),
            HostCall.Nmi => step < 2 ? Make(call) : null,
            HostCall.SetupMce => Once(step, Make(call, new HostVcpuData { Value = 10 })),
            HostCall.SetMce => step switch
            {
                0 => Make(HostCall.SetupMce, new HostVcpuData { Value = 10 }),
                1 => Make(call),
                _ => null,
            },
            HostCall.SetGuestDebug => Once(step, Make(call, new HostVcpuData { Value = 1 })),
            HostCall.SetTscKhz => Once(step, Make(call, new HostVcpuData { Value = FastTscKhz })),
            HostCall.SetTscOffset => Once(step, Make(call, new HostVcpuData { Value = HostTscOffset })),
            HostCall.ReadOnlyMemory or HostCall.PrivateMemoryAttribute => Once(step, Make(call, new HostVcpuData { Value = GuestAsm.DataPage, Size = 4096 })),
            _ => throw new ArgumentOutOfRangeException(nameof(call), $"{call} on {type}"),
        };
    }

    private static Gprs WithRbx(Gprs regs, ulong rbx)
    {
        regs[Gpr.Rbx] = rbx;
        return regs;
    }

    private static ImmutableArray<byte> WithQword(ImmutableArray<byte> image, int offset, ulong value)
    {
        byte[] copy = [.. image];
        BitConverter.TryWriteBytes(copy.AsSpan(offset), value);
        return [.. copy];
    }

    private static ulong Le64(ImmutableArray<byte> bytes, int offset) => BitConverter.ToUInt64(bytes.AsSpan(offset, 8));

    /// <summary>
    /// vCPU 0: sets RAX, RBX, XMM0, FCW, MXCSR, CR4.OSXSAVE, XCR0 and DR0, writes AL to the doorbell port (an OUT: a #VE, then the kernel's
    /// TDVMCALL&lt;Instruction.IO&gt; to the VMM, where the host calls are made), then reports RBX, CR4, XMM1, DR1, the
    /// TSC, and the TSC ticks over a fixed stretch of code.
    /// </summary>
    private static GuestProgram BuildGuest() => TdRunner.Assemble(b =>
    {
        Assembler a = b.Asm;
        a.mov(rdi, GuestAsm.DataPage);
        a.mov(rcx, XmmPattern);
        a.mov(__qword_ptr[rdi], rcx);
        a.mov(__qword_ptr[rdi + 8], rcx);
        a.movdqu(xmm0, __xmmword_ptr[rdi]);
        a.fninit(); // FCW = 0x37F
        a.mov(__dword_ptr[rdi + 32], 0x1F80);
        a.ldmxcsr(__dword_ptr[rdi + 32]);
        a.mov(rax, cr4);
        a.or(rax, (int)Cr4Osxsave);
        a.mov(cr4, rax);
        a.xor(ecx, ecx);
        a.xor(edx, edx);
        a.mov(eax, 3); // XCR0 = x87 | SSE
        a.xsetbv();
        a.mov(rax, Dr0AtDoorbell);
        a.mov(dr0, rax);
        a.mov(rax, RaxAtDoorbell);
        a.mov(rbx, RbxAtDoorbell);
        a.mov(dx, Doorbell);
        b.Define("doorbell");
        a.@out(dx, al);

        a.Report64(rbx);
        a.mov(rax, cr4);
        a.Report64(rax);
        a.movdqu(__xmmword_ptr[rdi + 16], xmm1);
        a.mov(rax, __qword_ptr[rdi + 16]);
        a.Report64(rax);
        a.mov(rax, dr1);
        a.Report64(rax);
        a.rdtsc();
        a.shl(rdx, 32);
        a.or(rax, rdx);
        a.Report64(rax);
        a.rdtsc();
        a.shl(rdx, 32);
        a.or(rax, rdx);
        a.mov(rsi, rax);
        for (int i = 0; i < 16; i++)
        {
            a.nop();
        }

        a.rdtsc();
        a.shl(rdx, 32);
        a.or(rax, rdx);
        a.sub(rax, rsi);
        a.Report64(rax);
        a.Success();
    });

    private static Outcome RunLive(VmType type, Func<HostVcpuCallCompleted?, int, HostVcpuCall?>? script)
    {
        var host = new ScriptedHost(script);
        Scenario scenario = TdRunner.ScenarioFor(Program.Value.ToImage()) with { Deterministic = true, Seed = 1, VmType = type };
        using var com1 = new MemoryStream();
        MachineResult result = TdMachine.Run(scenario, new MachineIo(com1) { HostCalls = script is null ? null : host, Instrumentation = host });
        var reports = new List<ulong>();
        for (int i = 0; i + 1 < result.Reports.Count; i += 2)
        {
            reports.Add(result.Reports[i] | (result.Reports[i + 1] << 32));
        }

        return new Outcome(result, reports, host.Completions, host.MemoryBefore, host.MemoryAfter);
    }

    private sealed record Outcome(MachineResult Result, List<ulong> Reports, List<HostVcpuCallCompleted> Completions, string? MemoryBefore, string? MemoryAfter);

    /// <summary>The VMM's host calls: on vCPU 0's first doorbell write, the script's calls, one after another; memory hashed around them.</summary>
    private sealed class ScriptedHost(Func<HostVcpuCallCompleted?, int, HostVcpuCall?>? script) : IHostCallDriver, IMachineInstrumentation
    {
        private GuestPhysicalMemory? _memory;
        private bool _done;
        private int _step;

        public List<HostVcpuCallCompleted> Completions { get; } = [];

        public string? MemoryBefore { get; private set; }

        public string? MemoryAfter { get; private set; }

        public HostVcpuCall? Next(TdVmcallRequested request, HostVcpuCallCompleted? previous)
        {
            bool doorbell = request.Regs[Gpr.R11] == (ulong)TdVmcallSubfunction.InstructionIo
                && request.Regs[Gpr.R13] == TdVmcall.IoDirectionOut && request.Regs[Gpr.R14] == Doorbell;
            if (script is null || _done || !doorbell)
            {
                return null;
            }

            if (previous is null)
            {
                MemoryBefore = HashMemory();
            }
            else
            {
                Completions.Add(previous);
            }

            if (script(previous, _step++) is { } call)
            {
                return call;
            }

            MemoryAfter = HashMemory();
            _done = true;
            return null;
        }

        public void MemoryReserved(GuestPhysicalMemory memory) => _memory = memory;

        public void VcpuReset(int vcpu, Span<ulong> gprs)
        {
        }

        public IHostMemory WrapHostMemory(IHostMemory host) => host;

        private string HashMemory()
        {
            GuestPhysicalMemory memory = _memory!;
            using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            byte[] chunk = new byte[1 << 16];
            for (ulong gpa = 0; gpa < memory.PrivateSize; gpa += (ulong)chunk.Length)
            {
                Assert.True(memory.TryReadPrivate(gpa, chunk));
                sha.AppendData(chunk);
            }

            return Convert.ToHexString(sha.GetHashAndReset());
        }
    }
}
