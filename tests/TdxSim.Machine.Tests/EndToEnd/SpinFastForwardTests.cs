using TdxSim.Machine.Tests.Guests;

namespace TdxSim.Machine.Tests.EndToEnd;

/// <summary>
/// The deterministic mode parks a vCPU spinning in a pure pause loop until a page its loop reads changes: the run
/// comes out as it does with every turn interpreted (same output, virtual time and work within a slice per wait),
/// it stays byte-for-byte replayable, and it skips most of the spinning.
/// </summary>
public sealed class SpinFastForwardTests
{
    private const int Vcpus = 32;

    private static TdRun SmpHello(bool fastForward, ulong seed = 1) =>
        TdRunner.RunBuiltIn("smp-hello", Vcpus, s => s with { Deterministic = true, Seed = seed, SpinFastForward = fastForward, MaxInstructions = 200_000_000 })
            .AssertExit(0, "halted");

    [Fact]
    public void SmpHello_WithAndWithoutFastForward_SameOutcome_SameVirtualTime_FarFewerSlicesRun()
    {
        TdRun full = SmpHello(fastForward: false);
        TdRun fast = SmpHello(fastForward: true);

        for (int i = 0; i < Vcpus; i++)
        {
            Assert.Contains($"hello from vCPU {i} of {Vcpus}\n", fast.Com1, StringComparison.Ordinal);
        }

        Assert.Equal(full.Com1.Length, fast.Com1.Length);
        Assert.Equal(0L, full.Result.Statistics.Sum(s => s.SpinSlicesSkipped));
        long skipped = fast.Result.Statistics.Sum(s => s.SpinSlicesSkipped);
        Assert.True(skipped > 10_000, $"only {skipped} slices skipped");

        // Virtual time: each wait may end up to a slice (about 1.2 us) later or earlier; 32 waits in 7 ms.
        double ratio = (double)fast.Result.VirtualNanoseconds / full.Result.VirtualNanoseconds;
        Assert.InRange(ratio, 0.98, 1.02);

        // The skipped turns are counted as retired: the work done is the same within a few percent.
        double work = (double)fast.Result.TotalInstructions / full.Result.TotalInstructions;
        Assert.InRange(work, 0.9, 1.1);
    }

    [Fact]
    public void SameSeed_SameOutput_AndVirtualTime()
    {
        TdRun a = SmpHello(fastForward: true, seed: 7);
        TdRun b = SmpHello(fastForward: true, seed: 7);
        Assert.Equal(a.Com1, b.Com1);
        Assert.Equal(a.Result.VirtualNanoseconds, b.Result.VirtualNanoseconds);
        Assert.Equal(a.Result.TotalInstructions, b.Result.TotalInstructions);
    }

    [Fact]
    public void ASpinnerThatIsNeverReleased_StillReachesItsInstructionLimit()
    {
        // vCPU 1 waits for a flag nobody sets: parked, it must still use up its instructions and end the run with 6.
        TdRun run = TdRunner.Run(
            b =>
            {
                Iced.Intel.Assembler a = b.Asm;
                Iced.Intel.Label flag = a.CreateLabel();
                Iced.Intel.Label spin = a.CreateLabel();
                a.Label(ref spin);
                a.pause();
                a.cmp(Iced.Intel.AssemblerRegisters.__dword_ptr[flag], 0);
                a.je(spin);
                a.HaltForever();
                a.Label(ref flag);
                a.dd(0u);
            },
            s => s with { Deterministic = true, Seed = 1, MaxInstructions = 2_000_000 },
            vcpus: 1);
        Assert.Equal(6, run.ExitStatus);
        Assert.True(run.Result.Statistics[0].SpinSlicesSkipped > 1000, $"skipped {run.Result.Statistics[0].SpinSlicesSkipped}");
        Assert.InRange(run.Result.Vcpus[0].Instructions, 1_990_000UL, 2_000_000UL);
    }
}
