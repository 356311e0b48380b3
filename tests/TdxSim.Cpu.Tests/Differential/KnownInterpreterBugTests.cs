using Xunit.Abstractions;

namespace TdxSim.Cpu.Tests.Differential;

/// <summary>
/// Documents each known interpreter bug with its reproducer. A reproducer must either match the CPU
/// (fixed: the differential generator then covers the forms again by itself) or show exactly the
/// documented wrong behaviour; anything else (a different wrong result) fails.
/// </summary>
[Collection(DifferentialCollection.Name)]
public sealed class KnownInterpreterBugTests(DifferentialFixture fixture, ITestOutputHelper output)
{
    public static TheoryData<string> Bugs() => [.. KnownInterpreterBugs.All.Select(b => b.Name)];

    [NativeTheory]
    [MemberData(nameof(Bugs))]
    public void Reproducer_MatchesTheCpuOrShowsExactlyTheDocumentedBug(string name)
    {
        KnownBug bug = KnownInterpreterBugs.All.Single(b => b.Name == name);
        (MachineState native, MachineState? interpreted, string? failure) = fixture.Harness.Reproduce(bug);

        Assert.True(interpreted is not null, failure);
        bool fixedNow = native.Gprs.Equals(interpreted.Gprs) && ((native.Rflags ^ interpreted.Rflags) & X86Flags.Compared) == 0;
        output.WriteLine(fixedNow ? $"{name}: fixed; the generator covers these forms again" : $"{name}: still present: {bug.Description}");
        Assert.True(fixedNow || bug.IsDocumentedMismatch(native, interpreted), $"{name}: the interpreter now differs from the CPU in an undocumented way");
    }
}
