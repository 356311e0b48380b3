using System.Globalization;
using System.Text;
using TdxSim.Images;
using TdxSim.Machine.Scenarios;

namespace TdxSim.Machine.Tests.Guests;

/// <summary>The outcome of one whole-TD run: the machine's result and exactly what the guest sent on COM1.</summary>
internal sealed record TdRun(MachineResult Result, byte[] Com1Bytes)
{
    /// <summary>COM1 as ASCII text.</summary>
    public string Com1 => Encoding.ASCII.GetString(Com1Bytes);

    /// <summary>The exit status of contract section 2.</summary>
    public int ExitStatus => Result.ExitStatus;

    /// <summary>A counter by name, 0 when the run never created it (counters that stayed zero are omitted).</summary>
    public long Counter(string name) => Result.Counters.TryGetValue(name, out long v) ? v : 0;

    /// <summary>Values reported on port 0x31, each as the 32-bit value of one 4-byte OUT.</summary>
    public IReadOnlyList<ulong> Reports => Result.Reports;

    /// <summary>
    /// The reports read as 64-bit values: the selftest library sends a 64-bit value as two 4-byte writes, low half
    /// first (reference 7).
    /// </summary>
    public IReadOnlyList<ulong> Reports64
    {
        get
        {
            Assert.True(Reports.Count % 2 == 0, $"an odd number of 4-byte reports ({Reports.Count}) cannot be read as 64-bit values");
            var values = new List<ulong>(Reports.Count / 2);
            for (int i = 0; i < Reports.Count; i += 2)
            {
                values.Add(Reports[i] | (Reports[i + 1] << 32));
            }

            return values;
        }
    }

    /// <summary>Fails with the run's diagnostic unless it ended with <paramref name="status"/>.</summary>
    public TdRun AssertExit(int status, string? reason = null)
    {
        Assert.True(
            ExitStatus == status && (reason is null || Result.Reason == reason),
            string.Create(CultureInfo.InvariantCulture, $"expected exit {status} ({reason ?? "any reason"}), got {ExitStatus} ({Result.Reason}): {Result.Detail}; reports [{string.Join(", ", Reports.Select(r => $"0x{r:x}"))}]; COM1 \"{Com1}\""));
        return this;
    }
}

/// <summary>Runs small in-memory guests as a whole TD (<see cref="TdMachine.Run"/>) with safety nets.</summary>
internal static class TdRunner
{
    /// <summary>Private memory for test TDs: small, and lazily committed anyway.</summary>
    public const ulong DefaultMemory = 16UL << 20;

    /// <summary>Per-vCPU instruction limit: far above what any test guest needs, so a runaway guest ends with status 6.</summary>
    public const ulong DefaultMaxInstructions = 5_000_000;

    /// <summary>Wall-clock (or virtual-time) limit so a guest waiting forever cannot hang the suite.</summary>
    public const ulong DefaultTimeLimitMs = 30_000;

    static TdRunner()
    {
        // The CLI's main thread waits outside the thread pool, so every pool thread is free for the TD's actors. A test
        // host blocks pool threads in the tests themselves (one per test class running in parallel), which can leave a
        // concurrent TD a single worker: a spin-waiting vCPU then keeps it for a whole mailbox batch (100 slices of 50,000
        // instructions) and its peer starves. Give the pool room for the CLI's situation; the starvation itself is shown
        // under the deterministic dispatcher by BuiltInGuestTests (see the final report).
        ThreadPool.GetMinThreads(out int workers, out int io);
        int wanted = (Environment.ProcessorCount * 2) + 4;
        if (workers < wanted)
        {
            ThreadPool.SetMinThreads(wanted, io);
        }
    }

    /// <summary>A scenario for <paramref name="image"/> with the test defaults.</summary>
    public static Scenario ScenarioFor(GuestImage image, int vcpus = 1) => new()
    {
        Name = "test",
        Guest = GuestSource.FromProgram(image),
        Vcpus = vcpus,
        Memory = DefaultMemory,
        MaxInstructions = DefaultMaxInstructions,
        TimeLimitMs = DefaultTimeLimitMs,
    };

    /// <summary>Runs <paramref name="scenario"/>.</summary>
    public static TdRun Run(Scenario scenario)
    {
        using var com1 = new MemoryStream();
        MachineResult result = TdMachine.Run(scenario, new MachineIo(com1));
        return new TdRun(result, com1.ToArray());
    }

    /// <summary>Assembles a test guest at <see cref="GuestAsm.Origin"/>.</summary>
    public static GuestProgram Assemble(Action<GuestProgram.Builder> emit) => GuestProgram.Assemble(GuestAsm.Origin, emit);

    /// <summary>Assembles <paramref name="emit"/> at <see cref="GuestAsm.Origin"/> and runs it.</summary>
    public static TdRun Run(Action<GuestProgram.Builder> emit, Func<Scenario, Scenario>? configure = null, int vcpus = 1)
        => Run(Assemble(emit), configure, vcpus);

    /// <summary>Runs an assembled program (keep it to look up its symbols).</summary>
    public static TdRun Run(GuestProgram program, Func<Scenario, Scenario>? configure = null, int vcpus = 1)
    {
        Scenario scenario = ScenarioFor(program.ToImage(), vcpus);
        return Run(configure is null ? scenario : configure(scenario));
    }

    /// <summary>Runs a built-in guest.</summary>
    public static TdRun RunBuiltIn(string name, int vcpus, Func<Scenario, Scenario>? configure = null)
    {
        var scenario = new Scenario
        {
            Name = name,
            Guest = GuestSource.FromBuiltIn(name),
            Vcpus = vcpus,
            Memory = Scenario.DefaultMemory,
            MaxInstructions = DefaultMaxInstructions,
            TimeLimitMs = DefaultTimeLimitMs,
        };
        return Run(configure is null ? scenario : configure(scenario));
    }
}
