namespace TdxSim.Machine.Tests.Guests;

/// <summary>
/// What the built-in <c>smp-hello</c> and <c>demo</c> guests print after the hellos: the #VE walk, the paravirt walk,
/// and the verdict. Every value is a fact of the default machine (contract section 3): the VMM's hypervisor signature,
/// the x2APIC model, GPAW 48, the I/O APIC version 0x00170020, the test device's scratch register, the PCI host bridge
/// 8086:29c0, and a converted page that reads zero after re-acceptance.
/// </summary>
internal static class TourTranscript
{
    /// <summary>The text after the hello lines for a TD of <paramref name="vcpus"/> vCPUs.</summary>
    public static string Walks(int vcpus) =>
        "== walk 1 of 2: #VE ==\n" + Walk("#VE", vcpus, 0x20_0000)
        + "== walk 2 of 2: paravirt TDCALL ==\n" + Walk("paravirt", vcpus, 0x20_1000)
        + "both walks saw the same device-visible results\n";

    /// <summary>The hello line of vCPU <paramref name="index"/>.</summary>
    public static string Hello(int index, int vcpus) => $"hello from vCPU {index} of {vcpus}\n";

    private static string Walk(string tag, int vcpus, ulong page) =>
        $"[{tag}] CPUID 0x40000000: \"TdxSimTdxSim\"\n"
        + $"[{tag}] RDMSR 0x802 (x2APIC ID) = 0x0000000000000000\n"
        + $"[{tag}] WRMSR 0x80f (x2APIC SPIV) = 0x1ff, read back 0x000001ff\n"
        + $"[{tag}] TDG.VP.INFO: GPAW 48, vCPUs {vcpus}, this vCPU 0\n"
        + $"[{tag}] I/O APIC version register = 0x00170020\n"
        + $"[{tag}] test device scratch = 0x1122334455667788\n"
        + $"[{tag}] PCI 00:00.0 vendor:device = 8086:29c0\n"
        + $"[{tag}] page 0x{page:x}: MapGPA to shared, wrote/read 0xcafef00dcafef00d; back to private, reads 0x0000000000000000\n";
}
