using Iced.Intel;
using TdxSim.Abi;
using TdxSim.Machine.Scenarios;
using TdxSim.Machine.Tests.Guests;
using static Iced.Intel.AssemblerRegisters;

namespace TdxSim.Machine.Tests.EndToEnd;

/// <summary>Several vCPUs in one TD, with one VMM or one per vCPU.</summary>
public sealed class SmpTests
{
    [Theory]
    [InlineData(VmmTopology.Single)]
    [InlineData(VmmTopology.PerVcpu)]
    public void FourVcpus_EachSeesItsIndexInRdiVpInfoCpuidAndItsOwnVmmMsrs(VmmTopology topology)
    {
        TdRun run = TdRunner.Run(
            b =>
            {
                Assembler a = b.Asm;
                a.mov(rbp, rdi);                               // index (RDI at entry)
                a.mov(eax, (uint)TdcallLeaf.VpInfo);
                a.tdcall();
                a.mov(rbx, r9);                                // TDG.VP.INFO: this vCPU's index
                a.mov(eax, 1);
                a.xor(ecx, ecx);
                a.cpuid();                                     // EBX[31:24]: APIC ID
                a.shr(ebx, 24);
                a.shl(rbx, 8);
                a.or(rbx, r9);

                // x2APIC TPR, a per-vCPU register of the VMM's APIC model: write 0x10 + index by #VE, read it by paravirt.
                a.mov(ecx, 0x808);
                a.lea(eax, __[rbp + 0x10]);
                a.xor(edx, edx);
                a.wrmsr();
                a.Tdvmcall(TdVmcallSubfunction.InstructionRdmsr, 0x808);
                a.shl(rbx, 8);
                a.or(rbx, r11);
                a.shl(rbp, 24);
                a.or(rbx, rbp);
                a.Report(rbx);                                 // index | APIC ID | VP.INFO index | TPR, a byte each
                a.HaltForever();
            },
            s => s with { Vmm = topology },
            vcpus: 4).AssertExit(0, "halted");

        Assert.Equal(Enumerable.Range(0, 4).Select(i => (ulong)((i << 24) | (i << 16) | (i << 8) | (0x10 + i))), run.Reports.Order());
        Assert.All(run.Result.Vcpus, v => Assert.Equal("halted", v.State));
        Assert.Equal(4, run.Counter("vmm.tdvmcall.Instruction.HLT.halted"));
    }

    [Fact]
    public void AVcpuSpinningOnMemory_LetsItsPeerFinishAOneTdvmcallHandshakeWithinAMillionInstructions()
    {
        // vCPU 0 makes one TDVMCALL and then raises a flag; vCPU 1 spins on the flag. On hardware a TDVMCALL round trip
        // costs a spinning peer some thousands of instructions. The vCPU actor yields after every slice of 50,000
        // instructions "so other actors get their turn", so the peer must see the flag after a few slices (today: 2),
        // not after a whole mailbox batch of 100 slices.
        TdRun run = TdRunner.Run(
            b =>
            {
                Assembler a = b.Asm;
                Label flag = a.CreateLabel();
                Label waiter = a.CreateLabel();
                Label spin = a.CreateLabel();
                a.test(rdi, rdi);
                a.jnz(waiter);
                a.Tdvmcall(TdVmcallSubfunction.InstructionIo, 1, TdVmcall.IoDirectionOut, GuestAsm.UartScratch, 1);
                a.mov(__dword_ptr[flag], 1);
                a.HaltForever();
                a.Label(ref waiter);
                a.pause();
                a.Label(ref spin);
                a.cmp(__dword_ptr[flag], 0);
                a.je(spin);
                a.HaltForever();
                a.Label(ref flag);
                a.dd(0u);
            },
            s => s with { Deterministic = true, Seed = 3, MaxInstructions = 20_000_000 },
            vcpus: 2).AssertExit(0, "halted");

        ulong spun = run.Result.Vcpus[1].Instructions;
        Assert.True(spun < 500_000, $"vCPU 1 spun {spun:N0} instructions while vCPU 0 made one TDVMCALL");
    }

    /// <summary>
    /// Sixteen vCPUs take a test-and-set spinlock at an odd address on the code page (XCHG to take, plain MOV to
    /// release, as smp-hello's lock) around a #VE port write and a non-atomic increment, on real threads. Two bugs
    /// once hung this: a misaligned XCHG was not atomic against the plain release (the lock stayed taken with no
    /// holder), and a spinner's pause-loop exit kept its thread for Akka's 30 messages, so the holder's #VE round
    /// trips waited behind every spinner's thirty slices.
    /// </summary>
    [Fact]
    public void SixteenVcpus_ContendForAMisalignedSpinlockAroundAVe_EveryEntryCountedAndTheRunEnds()
    {
        const int rounds = 60;
        const int vcpus = 16;
        TdRun run = TdRunner.Run(
            b =>
            {
                Assembler a = b.Asm;
                Label retry = a.CreateLabel();
                Label wait = a.CreateLabel();
                Label notZero = a.CreateLabel();
                Label lockWord = a.CreateLabel();
                Label counter = a.CreateLabel();
                Label finished = a.CreateLabel();
                Label halt = a.CreateLabel();
                a.mov(r12, rdi);
                a.mov(r13, rsi);
                a.mov(ecx, rounds);
                a.Label(ref retry);
                a.mov(eax, 1);
                a.xchg(__dword_ptr[lockWord], eax);       // the lock word, on the code page
                a.test(eax, eax);
                a.jz(notZero);
                a.pause();
                a.jmp(retry);
                a.Label(ref notZero);
                a.mov(al, 0x55);
                a.@out(0x80, al);                          // a #VE inside the critical section
                a.mov(edx, __dword_ptr[counter]);
                a.inc(edx);
                a.mov(__dword_ptr[counter], edx);
                a.mov(__dword_ptr[lockWord], 0);          // release: a plain store
                a.dec(ecx);
                a.jnz(retry);
                a.@lock.inc(__dword_ptr[finished]);
                a.test(r12, r12);
                a.jnz(halt);
                a.Label(ref wait);
                a.pause();
                a.mov(eax, __dword_ptr[finished]);
                a.cmp(eax, r13d);
                a.jb(wait);
                a.mov(eax, __dword_ptr[counter]);
                a.Report(rax);
                a.Label(ref halt);
                a.HaltForever();
                a.db(0, 0, 0);                             // odd padding: the lock word is not dword aligned
                a.Label(ref lockWord);
                a.dd(0u);
                a.Label(ref counter);
                a.dd(0u);
                a.Label(ref finished);
                a.dd(0u);
            },
            s => s with { MaxInstructions = 200_000_000 },
            vcpus: vcpus).AssertExit(0, "halted");

        Assert.Equal([(ulong)(vcpus * rounds)], run.Reports);
        Assert.Equal(vcpus * rounds, run.Counter("device.post.writes"));
    }

    [Fact]
    public void EveryVcpu_StartsWithThePowerOnFpuState()
    {
        TdRun run = TdRunner.Run(
            b =>
            {
                Assembler a = b.Asm;
                a.sub(rsp, 16);
                a.fnstcw(__word_ptr[rsp]);
                a.movzx(eax, __word_ptr[rsp]);
                a.Report(rax);
                a.stmxcsr(__dword_ptr[rsp]);
                a.mov(eax, __dword_ptr[rsp]);
                a.Report(rax);
                a.HaltForever();
            },
            vcpus: 2).AssertExit(0, "halted");

        // FCW 0x37F and MXCSR 0x1F80 on both vCPUs (XCR0 = x87 is reset too; XGETBV needs CR4.OSXSAVE first).
        Assert.Equal([0x37FUL, 0x37FUL, 0x1F80UL, 0x1F80UL], run.Reports.Order());
    }
}
