using Iced.Intel;
using TdxSim.Machine.Tests.Guests;
using static Iced.Intel.AssemblerRegisters;

namespace TdxSim.Machine.Tests.Stress;

/// <summary>
/// <c>pause_ns</c>: in virtual time each PAUSE costs its latency on top of an instruction's, so a spin-wait turns at
/// the hardware's pace; <c>pause_exit_ns</c> is charged once per pause-loop exit.
/// </summary>
public sealed class PauseCostTests
{
    private const int Pauses = 4_000;

    [Fact]
    public void PauseNs_IsAKeyOfTheCostModel_AndPrinted()
    {
        CostModelSettings? s = new CostModelSettings().With("pause_ns", null, "7", out CostSettingError? error);

        Assert.Null(error);
        Assert.Equal(7, s!.PauseNs);
        Assert.Equal(40, new CostModelSettings().PauseNs);
        Assert.Contains(("pause_ns", (object)7L), s.Describe());
        Assert.NotEqual(new CostModelSettings(), s);
    }

    [Fact]
    public void EveryPause_AddsPauseNsOfVirtualTime()
    {
        long zero = VirtualTimeOfSpin(pauseNs: 0);
        long thousand = VirtualTimeOfSpin(pauseNs: 1_000);

        // Every PAUSE retired is charged, whether or not it ended in a pause-loop exit.
        Assert.Equal(Pauses * 1_000L, thousand - zero);
    }

    private static long VirtualTimeOfSpin(long pauseNs)
    {
        TdRun run = TdRunner.Run(
            b =>
            {
                Assembler a = b.Asm;
                Label top = a.CreateLabel();
                a.mov(ecx, Pauses);
                a.Label(ref top);
                a.pause();
                a.dec(ecx);
                a.jnz(top);
                a.Success();
            },
            s => s with
            {
                Deterministic = true,
                Costs = s.Costs.With("pause_ns", null, pauseNs.ToString(System.Globalization.CultureInfo.InvariantCulture), out _)!,
            }).AssertExit(0, "selftest-success");
        return run.Result.VirtualNanoseconds;
    }
}
