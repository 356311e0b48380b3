using TdxSim.Abi;
using TdxSim.Images;
using TdxSim.Memory;
using static Iced.Intel.AssemblerRegisters;

namespace TdxSim.Cpu.Tests.Interpreter;

/// <summary>LOCK-prefixed read-modify-write, XCHG, XADD, CMPXCHG(8B/16B): single-thread semantics and real
/// multi-threaded contention with exact final counts.</summary>
public sealed class AtomicTests
{
    private const ulong Counter = 0x8000;
    private const int Iterations = 20_000;

    [Fact]
    public void Cmpxchg_SuccessAndFailure()
    {
        using Guest g = Guest.RunProgram(
            a =>
            {
                a.mov(rsi, Guest.DataBase);
                a.mov(__qword_ptr[rsi], 10);
                a.mov(eax, 10);
                a.mov(ecx, 20);
                a.@lock.cmpxchg(__qword_ptr[rsi], rcx);  // match: store 20
                a.setz(r8b);
                a.mov(eax, 99);
                a.cmpxchg(__qword_ptr[rsi], rcx);        // mismatch: RAX = 20
                a.setz(r9b);
            });
        Assert.Equal(20UL, g.Read64(Guest.DataBase));
        Assert.Equal(1UL, g[Gpr.R8]);
        Assert.Equal(0UL, g[Gpr.R9]);
        Assert.Equal(20UL, g[Gpr.Rax]);
    }

    [Fact]
    public void XaddCmpxchg8b16b_Semantics()
    {
        using Guest g = Guest.RunProgram(
            a =>
            {
                a.mov(rsi, Guest.DataBase);
                a.mov(__qword_ptr[rsi], 5);
                a.mov(ecx, 3);
                a.@lock.xadd(__qword_ptr[rsi], rcx);     // mem = 8, rcx = 5
                a.mov(r8, rcx);
                a.mov(__qword_ptr[rsi + 16], 1);
                a.mov(__qword_ptr[rsi + 24], 2);
                a.mov(eax, 1);
                a.mov(edx, 2);
                a.mov(ebx, 7);
                a.mov(ecx, 9);
                a.@lock.cmpxchg16b(__xmmword_ptr[rsi + 16]);
                a.setz(r9b);
                a.cmpxchg8b(__qword_ptr[rsi + 16]);       // EDX:EAX = 2:1 vs memory 0:7: fails
                a.setz(r10b);
            });
        Assert.Equal(8UL, g.Read64(Guest.DataBase));
        Assert.Equal(5UL, g[Gpr.R8]);
        Assert.Equal(7UL, g.Read64(Guest.DataBase + 16));
        Assert.Equal(9UL, g.Read64(Guest.DataBase + 24));
        Assert.Equal(1UL, g[Gpr.R9]);
        Assert.Equal(0UL, g[Gpr.R10]);
        Assert.Equal(7UL, g[Gpr.Rax]);
        Assert.Equal(0UL, g[Gpr.Rdx]);
    }

    [Fact]
    public void Cmpxchg16b_Misaligned_RaisesGp()
    {
        using var g = new Guest(a =>
        {
            a.cmpxchg16b(__xmmword_ptr[rsi]);
            a.hlt();
        });
        g[Gpr.Rsi] = Guest.DataBase + 8;
        CpuExit exit = g.Run();
        Assert.Equal(CpuExitKind.Exception, exit.Kind);
        Assert.Equal(CpuExit.GeneralProtection, exit.Vector);
    }

    public static TheoryData<string> Contended => new() { "lock add", "lock xadd", "cmpxchg loop", "lock inc word", "lock add misaligned" };

    [Theory]
    [MemberData(nameof(Contended))]
    public void FourVcpus_ContendOnOneCounter_FinalCountIsExact(string kind)
    {
        ulong target = kind == "lock add misaligned" ? Counter + 0x3D : Counter;
        GuestProgram program = GuestProgram.Assemble(Guest.CodeBase, a =>
        {
            var top = a.CreateLabel();
            a.mov(rsi, target);
            a.mov(ecx, Iterations);
            a.Label(ref top);
            switch (kind)
            {
                case "lock add":
                case "lock add misaligned":
                    a.@lock.add(__qword_ptr[rsi], 1);
                    break;
                case "lock xadd":
                    a.mov(eax, 1);
                    a.@lock.xadd(__dword_ptr[rsi], eax);
                    break;
                case "lock inc word":
                    a.@lock.inc(__word_ptr[rsi]);
                    break;
                default:
                    // 'top' is also the retry point: a failed CMPXCHG reloads and tries again.
                    a.mov(rax, __qword_ptr[rsi]);
                    a.lea(rdx, __[rax + 1]);
                    a.@lock.cmpxchg(__qword_ptr[rsi], rdx);
                    a.jnz(top);
                    break;
            }

            a.dec(ecx);
            a.jnz(top);
            a.hlt();
        });
        using var memory = new GuestPhysicalMemory(1 << 20);
        const int vcpus = 4;
        CpuExit[] exits = RunOnThreads(program, memory, vcpus, ulong.MaxValue);

        Assert.All(exits, static e => Assert.Equal(VeExitReason.Hlt, e.Ve.ExitReason));
        var bytes = new byte[8];
        Assert.True(memory.TryReadPrivate(target, bytes));
        ulong expected = (ulong)(vcpus * Iterations);
        ulong actual = BitConverter.ToUInt64(bytes);
        Assert.Equal(kind == "lock inc word" ? expected & 0xFFFF : expected, actual);
    }

    /// <summary>
    /// A test-and-set spinlock at an odd address, taken by XCHG and released by a plain MOV (as the built-in smp-hello
    /// guest's lock word is): the XCHG must be atomic against the other vCPU's plain store. It once was not (misaligned
    /// locked accesses took a process-wide lock, which a plain store ignores): a release landed between the XCHG's
    /// read and write, the lock stayed taken with no holder, and smp-hello hung at 64 vCPUs.
    /// </summary>
    [Fact]
    public void MisalignedSpinlock_ReleasedByPlainStore_IsNeverLost()
    {
        const ulong lockWord = Counter + 0x3A;   // 2 mod 4: misaligned for a dword
        const ulong shared = Counter + 0x80;
        const int rounds = 200_000;
        GuestProgram program = GuestProgram.Assemble(Guest.CodeBase, a =>
        {
            var retry = a.CreateLabel();
            a.mov(rsi, lockWord);
            a.mov(rdi, shared);
            a.mov(ecx, rounds);
            a.Label(ref retry);
            a.mov(eax, 1);
            a.xchg(__dword_ptr[rsi], eax);
            a.test(eax, eax);
            a.jnz(retry);
            a.mov(rdx, __qword_ptr[rdi]);        // the critical section: a non-atomic increment
            a.inc(rdx);
            a.mov(__qword_ptr[rdi], rdx);
            a.mov(__dword_ptr[rsi], 0);          // release: a plain store
            a.dec(ecx);
            a.jnz(retry);
            a.hlt();
        });
        using var memory = new GuestPhysicalMemory(1 << 20);
        const int vcpus = 2;

        // A lost release leaves both spinning: the limit ends them instead of hanging the test.
        CpuExit[] exits = RunOnThreads(program, memory, vcpus, 400_000_000);

        Assert.All(exits, static e => Assert.Equal(VeExitReason.Hlt, e.Ve.ExitReason));
        var bytes = new byte[8];
        Assert.True(memory.TryReadPrivate(shared, bytes));
        Assert.Equal((ulong)(vcpus * rounds), BitConverter.ToUInt64(bytes));
        Assert.True(memory.TryReadPrivate(lockWord, bytes.AsSpan(0, 4)));
        Assert.Equal(0u, BitConverter.ToUInt32(bytes, 0));
    }

    /// <summary>Loads <paramref name="program"/> and runs it on <paramref name="vcpus"/> vCPUs, one host thread each, started together.</summary>
    private static CpuExit[] RunOnThreads(GuestProgram program, GuestPhysicalMemory memory, int vcpus, ulong maxInstructions)
    {
        Assert.True(memory.TryWritePrivate(program.Origin, program.Code));
        var threads = new Thread[vcpus];
        var exits = new CpuExit[vcpus];
        using var start = new Barrier(vcpus);
        for (int v = 0; v < vcpus; v++)
        {
            int index = v;
            var cpu = new Cpu(memory, index);
            cpu.State.Rip = program.Origin;
            cpu.State.Gpr[Gpr.Rsp] = (ulong)(0x80000 + (index * 0x10000));
            threads[v] = new Thread(() =>
            {
                start.SignalAndWait();
                exits[index] = cpu.Run(maxInstructions);
            });
            threads[v].Start();
        }

        foreach (Thread t in threads)
        {
            t.Join();
        }

        return exits;
    }
}
