using System.Diagnostics;
using System.Globalization;
using Xunit.Abstractions;

namespace TdxSim.Cpu.Tests.Differential;

/// <summary>
/// The interpreter checked against the real CPU: seeded random instruction sequences run natively
/// (in a sandbox mapping at a fixed low address) and in the interpreter (with the same bytes at the
/// same guest-physical addresses), then every GPR, every defined status flag and DF, the data buffer
/// and the live stack are compared.
/// <para>
/// A longer run on demand: <c>TDXSIM_DIFF_SEQUENCES=200000 dotnet test tests/TdxSim.Cpu.Tests -c Release
/// --filter FullyQualifiedName~Differential</c>; <c>TDXSIM_DIFF_SEED=N</c> changes the first seed (a
/// failure report names its seed; <c>TDXSIM_DIFF_SEED=thatSeed TDXSIM_DIFF_SEQUENCES=1</c> replays it).
/// </para>
/// </summary>
[Collection(DifferentialCollection.Name)]
public sealed class DifferentialTests(DifferentialFixture fixture, ITestOutputHelper output)
{
    private const int DefaultSequences = 3000;
    private const int GadgetsPerSequence = 8;

    private static int Sequences => EnvInt("TDXSIM_DIFF_SEQUENCES", DefaultSequences);

    private static int FirstSeed => EnvInt("TDXSIM_DIFF_SEED", 1);

    /// <summary>How many failing sequences are reported in full (<c>TDXSIM_DIFF_REPORTS</c>, default 4).</summary>
    private static int MaxReports => EnvInt("TDXSIM_DIFF_REPORTS", 4);

    [NativeFact]
    public void RandomSequences_MatchTheHostCpu()
    {
        Harness h = fixture.Harness;
        var failures = new List<string>();
        int failed = 0;
        long instructions = 0;
        var clock = Stopwatch.StartNew();
        for (int i = 0; i < Sequences; i++)
        {
            TestSequence s = h.Generator.Generate(FirstSeed + i, GadgetsPerSequence);
            instructions += s.Instructions.Count;
            string? report = h.Check(s);
            if (report is not null)
            {
                failed++;
                if (failures.Count < MaxReports)
                {
                    failures.Add(report);
                }
            }
        }

        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{Sequences} sequences, {instructions} instructions, seeds {FirstSeed}..{FirstSeed + Sequences - 1}, {clock.ElapsedMilliseconds} ms; forms not generated (known interpreter bugs): {(h.ActiveBugs.Count == 0 ? "none" : string.Join(", ", h.ActiveBugs))}"));
        Assert.True(failed == 0, $"{failed} of {Sequences} sequences differ from the host CPU; first {failures.Count}:\n\n{string.Join("\n", failures)}");
    }

    /// <summary>The same kind of sequences with one-instruction blocks and REP chunks of one element.</summary>
    [NativeFact]
    public void RandomSequences_OneInstructionBlocks_MatchTheHostCpu()
    {
        Harness h = fixture.Harness;
        var failures = new List<string>();
        int failed = 0;
        int count = Math.Max(1, Sequences / 6);
        for (int i = 0; i < count; i++)
        {
            string? report = h.Check(h.Generator.Generate(FirstSeed + 7_000_000 + i, GadgetsPerSequence), stepping: true);
            if (report is not null && failed++ < MaxReports)
            {
                failures.Add(report);
            }
        }

        Assert.True(failed == 0, $"{failed} of {count} sequences differ from the host CPU with one-instruction blocks; first {failures.Count}:\n\n{string.Join("\n", failures)}");
    }

    /// <summary>Every family on its own, so a failure names the family (sequences of that family's forms plus their setup).</summary>
    public static TheoryData<string> Families() => [.. InstructionCatalog.ForHost().FamilyNames];

    [NativeTheory]
    [MemberData(nameof(Families))]
    public void Family_MatchesTheHostCpu(string family)
    {
        Harness h = fixture.Harness;
        SequenceGenerator generator = h.ForFamily(family);
        var failures = new List<string>();
        int failed = 0;
        int count = Math.Max(1, Sequences / 50);
        for (int i = 0; i < count; i++)
        {
            string? report = h.Check(generator.Generate(FirstSeed + i, 6));
            if (report is not null && failed++ < MaxReports)
            {
                failures.Add(report);
            }
        }

        Assert.True(failed == 0, $"{family}: {failed} of {count} sequences differ from the host CPU; first {failures.Count}:\n\n{string.Join("\n", failures)}");
    }

    private static int EnvInt(string name, int fallback) =>
        int.TryParse(Environment.GetEnvironmentVariable(name), NumberStyles.Integer, CultureInfo.InvariantCulture, out int v) && v > 0 ? v : fallback;
}
