using Iced.Intel;
using TdxSim.Machine.Tests.Guests;
using static Iced.Intel.AssemblerRegisters;

namespace TdxSim.Machine.Tests.EndToEnd;

/// <summary>
/// The deterministic dispatcher (contract section 2, <c>--deterministic</c>): the same seed gives the same COM1
/// bytes, final state, reports, counters and virtual time, run after run.
/// </summary>
public sealed class DeterminismTests
{
    /// <summary>
    /// Three vCPUs race without locks: each writes its digit to COM1 eight times and bumps the test device's scratch
    /// register with an unlocked MMIO read-modify-write, so COM1's interleaving and the final count depend on the
    /// schedule.
    /// </summary>
    private static TdRun RunRace(ulong seed) => TdRunner.Run(
        b =>
        {
            Assembler a = b.Asm;
            Label loop = a.CreateLabel();
            a.mov(rbx, GuestAsm.TestDevice);
            a.lea(eax, __[rdi + '0']);
            a.mov(dx, GuestAsm.Com1);
            a.mov(esi, 8);
            a.Label(ref loop);
            a.@out(dx, al);
            a.mov(rcx, __qword_ptr[rbx]);
            a.inc(rcx);
            a.mov(__qword_ptr[rbx], rcx);
            a.dec(esi);
            a.jnz(loop);
            a.mov(rcx, __qword_ptr[rbx]);
            a.Report(rcx);
            a.HaltForever();
        },
        s => s with { Deterministic = true, Seed = seed },
        vcpus: 3).AssertExit(0, "halted");

    private static void AssertSameRun(TdRun first, TdRun second)
    {
        Assert.Equal(first.Com1Bytes, second.Com1Bytes);
        Assert.Equal(first.Reports, second.Reports);
        Assert.Equal(first.Result.Vcpus, second.Result.Vcpus);
        Assert.Equal(first.Result.Counters.OrderBy(c => c.Key, StringComparer.Ordinal), second.Result.Counters.OrderBy(c => c.Key, StringComparer.Ordinal));
        Assert.Equal(first.Result.VirtualNanoseconds, second.Result.VirtualNanoseconds);
        Assert.Equal(first.Result.Reason, second.Result.Reason);
    }

    [Fact]
    public void RacingVcpus_SameSeedTwice_IdenticalCom1FinalStateReportsCountersAndVirtualTime()
    {
        TdRun first = RunRace(11);
        TdRun second = RunRace(11);

        AssertSameRun(first, second);
        Assert.Equal(24, first.Com1Bytes.Length);
        Assert.All("012", digit => Assert.Equal(8, first.Com1.Count(c => c == digit)));
    }

    [Fact]
    public void RacingVcpus_DifferentSeeds_ScheduleDifferently()
    {
        var outputs = new HashSet<string>(StringComparer.Ordinal);
        for (ulong seed = 1; seed <= 6; seed++)
        {
            outputs.Add(RunRace(seed).Com1);
        }

        Assert.True(outputs.Count > 1, "six seeds gave the same interleaving: the seed does not reach the schedule");
    }

    /// <summary>
    /// A top-level actor is started by Akka's guardian on another thread: before <c>TdxRuntime.StartTopLevel</c> waited
    /// for it, the loop could run the machine while its children's first replies were still parked in the placeholder
    /// cell, find nothing ready and fire the time limit at virtual time 0 (3 runs in 400, under parallel load).
    /// </summary>
    [Fact]
    public void ManyParallelDeterministicRuns_NeverEndBeforeTheGuestStarts()
    {
        var failures = new System.Collections.Concurrent.ConcurrentBag<string>();
        Parallel.For(0, 240, new ParallelOptions { MaxDegreeOfParallelism = 6 }, i =>
        {
            ulong seed = (ulong)(i % 6) + 1;
            try
            {
                TdRun run = RunRace(seed);
                if (run.Com1Bytes.Length != 24)
                {
                    failures.Add($"seed {seed}: COM1 has {run.Com1Bytes.Length} bytes");
                }
            }
            catch (Xunit.Sdk.XunitException e)
            {
                failures.Add($"seed {seed}: {e.Message}");
            }
        });

        Assert.True(failures.IsEmpty, $"{failures.Count} of 240 runs failed, e.g. {failures.FirstOrDefault()}");
    }

    [Fact]
    public void Demo_SameSeedTwice_IdenticalRuns()
    {
        TdRun first = TdRunner.RunBuiltIn("demo", 1, s => s with { Deterministic = true, Seed = 5 }).AssertExit(1);
        TdRun second = TdRunner.RunBuiltIn("demo", 1, s => s with { Deterministic = true, Seed = 5 }).AssertExit(1);

        AssertSameRun(first, second);
        Assert.True(first.Result.VirtualNanoseconds > 0);
    }
}
