using TdxSim.Devices.Bus;
using TdxSim.Devices.Interrupts;
using TdxSim.Devices.Pci;
using TdxSim.Devices.Platform;
using TdxSim.Devices.Serial;

namespace TdxSim.Devices;

/// <summary>
/// The device set of the default machine (contract section 3) and the only place that knows where devices live.
/// <see cref="CreateDefault"/> registers them explicitly, in this order (no reflection):
/// <list type="table">
/// <listheader><term>where</term><description>device</description></listheader>
/// <item><term>ports 0x30-0x31</term><description><see cref="SelftestPorts"/> (success, report)</description></item>
/// <item><term>ports 0x70-0x71</term><description><see cref="CmosRtc"/></description></item>
/// <item><term>port 0x80</term><description><see cref="PostCodePort"/></description></item>
/// <item><term>port 0xF4</term><description><see cref="DebugExit"/></description></item>
/// <item><term>ports 0x3F8-0x3FF</term><description>COM1, a <see cref="Uart16550"/></description></item>
/// <item><term>ports 0xCF8-0xCFF</term><description><see cref="PciConfigIo"/> with the <see cref="PciHostBridge"/> at 00:00.0</description></item>
/// <item><term>MMIO 0xFEB00000, 4 KiB</term><description><see cref="MmioTestDevice"/></description></item>
/// <item><term>MMIO 0xFEC00000, 4 KiB</term><description><see cref="IoApic"/></description></item>
/// </list>
/// Everything else: reads all ones, writes ignored (<see cref="DeviceBus"/>). The machine may register more devices
/// on <see cref="PortBus"/> and <see cref="MmioBus"/> before the guest starts.
/// </summary>
public sealed class MachineDevices
{
    /// <summary>KVM selftest success port; the report port follows it (reference 7).</summary>
    public const ushort SelftestBase = 0x30;

    /// <summary>PC POST-code port.</summary>
    public const ushort PostCodePortNumber = 0x80;

    /// <summary>The CMOS RTC's index port (data at +1).</summary>
    public const ushort RtcBase = 0x70;

    /// <summary>QEMU isa-debug-exit port.</summary>
    public const ushort DebugExitPort = 0xF4;

    /// <summary>COM1 base port and its eight registers.</summary>
    public const ushort Com1Base = 0x3F8;

    /// <inheritdoc cref="Com1Base"/>
    public const ulong Com1Length = 8;

    /// <summary>PCI CONFIG_ADDRESS; CONFIG_DATA is at +4.</summary>
    public const ushort PciConfigBase = 0xCF8;

    /// <summary>The MMIO test device (guest-physical, reached through the shared alias).</summary>
    public const ulong MmioTestBase = 0xFEB0_0000;

    /// <summary>The I/O APIC's usual PC address (guest-physical, reached through the shared alias).</summary>
    public const ulong IoApicBase = 0xFEC0_0000;

    /// <summary>The names of the default machine's devices (what a cost model's <c>device_ns</c> may name).</summary>
    public static readonly IReadOnlyList<string> DeviceNames = ["com1", "debug-exit", "ioapic", "mmio-test", "pci-cfg", "post", "selftest"];

    private MachineDevices(IByteSink com1Output, IMachineEvents events, IInterruptLine? com1Interrupt)
    {
        PortBus = DeviceBus.CreatePortBus();
        MmioBus = DeviceBus.CreateMmioBus();
        Selftest = new SelftestPorts(events);
        PostCode = new PostCodePort(events);
        Rtc = new CmosRtc();
        DebugExit = new DebugExit(events);
        Com1 = new Uart16550("com1", com1Output, com1Interrupt);
        Pci = new PciConfigIo();
        Pci.AddFunction(0, 0, 0, PciHostBridge.Create());
        MmioTest = new MmioTestDevice();
        IoApic = new IoApic();

        PortBus.Register(SelftestBase, SelftestPorts.Length, Selftest);
        PortBus.Register(RtcBase, 2, Rtc);
        PortBus.Register(PostCodePortNumber, 1, PostCode);
        PortBus.Register(DebugExitPort, 1, DebugExit);
        PortBus.Register(Com1Base, Com1Length, Com1);
        PortBus.Register(PciConfigBase, PciConfigIo.Length, Pci);
        MmioBus.Register(MmioTestBase, MmioTestDevice.Length, MmioTest);
        MmioBus.Register(IoApicBase, IoApic.Length, IoApic);
    }

    /// <summary>Builds the default device set.</summary>
    /// <param name="com1Output">Where COM1's transmitted bytes go (the CLI passes stdout).</param>
    /// <param name="events">Receives stop requests, reports and POST codes.</param>
    /// <param name="com1Interrupt">COM1's IRQ line, or null while interrupts are not delivered.</param>
    public static MachineDevices CreateDefault(IByteSink com1Output, IMachineEvents events, IInterruptLine? com1Interrupt = null)
    {
        ArgumentNullException.ThrowIfNull(com1Output);
        ArgumentNullException.ThrowIfNull(events);
        return new MachineDevices(com1Output, events, com1Interrupt);
    }

    /// <summary>The I/O-port bus.</summary>
    public DeviceBus PortBus { get; }

    /// <summary>The MMIO bus (guest-physical addresses without the shared bit).</summary>
    public DeviceBus MmioBus { get; }

    /// <summary>Selftest success and report ports.</summary>
    public SelftestPorts Selftest { get; }

    /// <summary>POST-code port.</summary>
    public PostCodePort PostCode { get; }

    /// <summary>The CMOS real-time clock.</summary>
    public CmosRtc Rtc { get; }

    /// <summary>Debug-exit port.</summary>
    public DebugExit DebugExit { get; }

    /// <summary>COM1.</summary>
    public Uart16550 Com1 { get; }

    /// <summary>PCI configuration mechanism #1.</summary>
    public PciConfigIo Pci { get; }

    /// <summary>The MMIO test device.</summary>
    public MmioTestDevice MmioTest { get; }

    /// <summary>The I/O APIC.</summary>
    public IoApic IoApic { get; }

    /// <summary>Times device lock waits and holds on both buses (for the contention report).</summary>
    public bool TimeAccesses
    {
        get => PortBus.TimeAccesses;
        set => PortBus.TimeAccesses = MmioBus.TimeAccesses = value;
    }

    /// <summary>
    /// While <see cref="TimeAccesses"/> is on, how many accesses share one timed hold (see
    /// <see cref="DeviceBus.HoldSampleInterval"/>) on both buses: 1 times every access.
    /// </summary>
    public int HoldSampleInterval
    {
        get => PortBus.HoldSampleInterval;
        set => PortBus.HoldSampleInterval = MmioBus.HoldSampleInterval = value;
    }

    /// <summary>Lock waits and holds of every device reached while <see cref="TimeAccesses"/> was on.</summary>
    public IReadOnlyList<DeviceLockTimes> GetLockTimes() => [.. PortBus.GetLockTimes(), .. MmioBus.GetLockTimes()];

    /// <summary>
    /// Counters for the final-state dump: <c>device.&lt;name&gt;.reads</c> / <c>.writes</c> for every device on both
    /// buses, and <c>bus.&lt;bus&gt;.unclaimed_reads</c> / <c>_writes</c>.
    /// </summary>
    public IReadOnlyDictionary<string, long> GetCounters()
    {
        var counters = new SortedDictionary<string, long>(StringComparer.Ordinal);
        foreach (DeviceBus bus in (ReadOnlySpan<DeviceBus>)[PortBus, MmioBus])
        {
            foreach (DeviceCounter c in bus.GetCounters())
            {
                counters[$"device.{c.Name}.reads"] = c.Reads;
                counters[$"device.{c.Name}.writes"] = c.Writes;
            }

            counters[$"bus.{bus.Name}.unclaimed_reads"] = bus.UnclaimedReads;
            counters[$"bus.{bus.Name}.unclaimed_writes"] = bus.UnclaimedWrites;
        }

        return counters;
    }
}
