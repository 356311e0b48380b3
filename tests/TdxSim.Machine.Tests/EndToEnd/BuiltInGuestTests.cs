using TdxSim.Machine.Scenarios;
using TdxSim.Machine.Tests.Guests;

namespace TdxSim.Machine.Tests.EndToEnd;

/// <summary>
/// Issue 4's "done means" on the built-in guests: every vCPU prints through the UART, vCPU 0 reads the I/O APIC
/// version through MMIO, asks CPUID, MSRs and TDG.VP.INFO, converts a page to shared and back, all by #VE and all
/// again by paravirt TDCALLs, and the TD ends by halting (smp-hello) or through port 0xF4 (demo).
/// </summary>
public sealed class BuiltInGuestTests
{
    private static string Walks(int vcpus) => TourTranscript.Walks(vcpus);

    [Fact]
    public void Demo_OneVcpu_PrintsTheExactTranscriptAndExitsThroughPort0xF4WithStatus1()
    {
        TdRun run = TdRunner.RunBuiltIn("demo", vcpus: 1).AssertExit(1, "debug-exit");

        Assert.Equal("hello from vCPU 0 of 1\n" + Walks(1), run.Com1);
        // The host ends the TD at the debug-exit write without completing it: the vCPU never runs on.
        Assert.Equal("waiting", run.Result.Vcpus[0].State);
    }

    [Fact]
    public void SmpHello_TwoVcpus_PrintsEveryHelloAndBothWalksThenHaltsWithStatus0()
    {
        TdRun run = TdRunner.RunBuiltIn("smp-hello", vcpus: 2).AssertExit(0, "halted");

        string text = run.Com1;
        string[] hellos = text.Split('\n')[..2];
        Assert.Equal(["hello from vCPU 0 of 2", "hello from vCPU 1 of 2"], hellos.Order());
        Assert.Equal(Walks(2), text[(hellos[0].Length + hellos[1].Length + 2)..]);
        Assert.All(run.Result.Vcpus, v => Assert.Equal("halted", v.State));
        Assert.Equal(text.Length, run.Counter("com1.bytes"));
    }

    [Fact]
    public void Demo_UnderTheDeterministicDispatcher_PrintsTheSameTranscript()
    {
        TdRun run = TdRunner.RunBuiltIn("demo", vcpus: 1, s => s with { Deterministic = true, Seed = 7 }).AssertExit(1, "debug-exit");

        Assert.Equal("hello from vCPU 0 of 1\n" + Walks(1), run.Com1);
    }

    [Fact]
    public void SmpHello_WalksTakeTheVePathFirstAndTheParavirtPathSecond_TheCountersShowBoth()
    {
        TdRun run = TdRunner.RunBuiltIn("smp-hello", vcpus: 1).AssertExit(0, "halted");

        // #VE walk: one CPUID #VE (leaf 0x40000000), one RDMSR #VE (SPIV; the x2APIC ID is module-emulated under
        // ENUM_TOPOLOGY), one WRMSR #VE, EPT violations for 2 I/O APIC + 2 test-device accesses and the lazily
        // accepted page, and the final HLT. The paravirt walk adds no #VE of these kinds.
        Assert.Equal(1, run.Counter("vcpu0.ve.CPUID"));
        Assert.Equal(1, run.Counter("vcpu0.ve.MSR_READ"));
        Assert.Equal(1, run.Counter("vcpu0.ve.MSR_WRITE"));
        Assert.Equal(5, run.Counter("vcpu0.ve.EPT_VIOLATION"));
        Assert.Equal(1, run.Counter("vcpu0.ve.HLT"));
        Assert.Equal(1, run.Counter("vcpu0.module_emulated"));

        // Both walks reach the same devices the same number of times.
        Assert.Equal(2, run.Counter("vmm.tdvmcall.Instruction.CPUID.SUCCESS"));
        Assert.Equal(4, run.Counter("vmm.tdvmcall.MapGPA.SUCCESS"));
        Assert.Equal(8, run.Counter("vmm.tdvmcall.#VE.RequestMMIO.SUCCESS"));
        // Each walk prints TDG.VP.INFO; the #VE walk also reads the TD attributes before touching the converted page.
        Assert.Equal(3, run.Counter("tdx_module.tdcall.TDG.VP.INFO"));
        Assert.Equal(2, run.Counter("tdx_module.tdcall.TDG.MEM.PAGE.ACCEPT")); // one by the #VE handler, one by the guest
        Assert.Equal(8192, run.Counter("vmm.mapgpa.bytes_to_shared"));
        Assert.Equal(8192, run.Counter("vmm.mapgpa.bytes_to_private"));
        Assert.Equal(0, run.Counter("runtime.failures"));
        Assert.Equal(0, run.Counter("runtime.unexpected_replies"));
    }

    [Fact]
    public void SmpHello_WithSeptVeDisable_AcceptsTheConvertedPageExplicitly_AndStillPrintsBothWalks()
    {
        // With SEPT_VE_DISABLE no #VE reports the pending page: touching it would kill the TD. The guest reads
        // its attributes (TDG.VP.INFO RDX) and accepts the page itself, as Linux does after MapGPA to private.
        TdRun run = TdRunner.RunBuiltIn("smp-hello", vcpus: 1, s => s with { TdAttributes = Abi.TdAttributes.SeptVeDisable })
            .AssertExit(0, "halted");

        Assert.EndsWith(Walks(1), run.Com1, StringComparison.Ordinal);
        Assert.Equal(4, run.Counter("vcpu0.ve.EPT_VIOLATION"));   // only the four MMIO accesses: no pending-page #VE
        Assert.Equal(2, run.Counter("tdx_module.tdcall.TDG.MEM.PAGE.ACCEPT")); // both by the guest itself
    }

    [Fact]
    public void SmpHello_WithOneVmmPerVcpu_PrintsTheSameWalks()
    {
        TdRun run = TdRunner.RunBuiltIn("smp-hello", vcpus: 2, s => s with { Vmm = VmmTopology.PerVcpu }).AssertExit(0, "halted");

        Assert.EndsWith(Walks(2), run.Com1, StringComparison.Ordinal);
        Assert.Contains("hello from vCPU 1 of 2\n", run.Com1, StringComparison.Ordinal);
    }

    [Fact]
    public void SmpHello_WithLazyAccept_AcceptsEveryTouchedPageOnItsEptViolationAndPrintsTheSameWalks()
    {
        TdRun eager = TdRunner.RunBuiltIn("smp-hello", vcpus: 2).AssertExit(0, "halted");
        TdRun lazy = TdRunner.RunBuiltIn("smp-hello", vcpus: 2, s => s with { LazyAccept = true }).AssertExit(0, "halted");

        Assert.EndsWith(Walks(2), lazy.Com1, StringComparison.Ordinal);

        // Each vCPU's stack page is pending: its first push takes an EPT-violation #VE answered by a 4 KiB ACCEPT.
        Assert.True(lazy.Counter("vcpu1.ve.EPT_VIOLATION") >= 1, "vCPU 1's stack page was never accepted lazily");
        Assert.True(
            lazy.Counter("tdx_module.tdcall.TDG.MEM.PAGE.ACCEPT") > eager.Counter("tdx_module.tdcall.TDG.MEM.PAGE.ACCEPT"),
            "lazy acceptance issued no more TDG.MEM.PAGE.ACCEPTs than eager acceptance");
    }
}
