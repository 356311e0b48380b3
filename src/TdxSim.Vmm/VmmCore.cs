using TdxSim.Abi;
using TdxSim.Abi.Messages;
using TdxSim.Devices.Bus;
using TdxSim.Vmm.Cpuid;
using TdxSim.Vmm.Memory;
using TdxSim.Vmm.Msr;

namespace TdxSim.Vmm;

/// <summary>
/// The untrusted host's TDVMCALL handling (GHCI sub-functions; KVM's behaviour in reference 6.1), as a synchronous,
/// actor-agnostic class: <see cref="Handle"/> takes a <see cref="TdVmcallRequested"/> and returns a
/// <see cref="VmcallOutcome"/> (a reply now, a blocked vCPU, or no reply) with the events for the machine.
/// <para>
/// Inputs come only from the registers the guest selected (GPR_SELECT); every other register reads zero, as the
/// TDX module presents them, so a guest that forgets to select R14 gets port 0. The reply carries the VMM's whole
/// register view with R10 = the TDVMCALL status; the module copies back only the selected registers.
/// </para>
/// <para>
/// Validation follows KVM: a malformed request gets INVALID_OPERAND (or ALIGN_ERROR for MapGPA) and has no effect.
/// Deviations, all stricter: a port above 0xFFFF, a CPUID leaf or sub-leaf or an MSR index above 32 bits are
/// INVALID_OPERAND where KVM would truncate them.
/// </para>
/// <para>
/// Thread safety: <see cref="Handle"/> may run concurrently for different vCPUs (one VMM actor per vCPU); calls for
/// one vCPU must not overlap, which the TDVMCALL protocol guarantees (a vCPU waits for its reply). Per-vCPU state is
/// per vCPU; shared state is the buses (per-device locks), memory (thread-safe) and lock-free counters.
/// </para>
/// </summary>
public sealed partial class VmmCore
{
    /// <summary>R10 of a KVM hypercall the VMM does not implement: -KVM_ENOSYS (-1000).</summary>
    public const ulong KvmEnosys = unchecked((ulong)-1000L);

    private static readonly IReadOnlyList<ITdxMessage> NoEvents = [];

    private readonly DeviceBus _ports;
    private readonly DeviceBus _mmio;
    private readonly IHostMemory _memory;
    private readonly DeviceEventCollector _deviceEvents;
    private readonly TdVmcallCompleted?[] _pendingHalt;
    private readonly int[] _notifyVector;
    private TdxSim.Vmm.HostApi.HostVcpuApi? _hostApi;

    /// <summary>Creates the VMM.</summary>
    /// <param name="options">Behaviour switches, vCPU count, MSR and CPUID tables.</param>
    /// <param name="portBus">The I/O-port bus.</param>
    /// <param name="mmioBus">The MMIO bus (GPAs without the shared bit).</param>
    /// <param name="memory">Guest memory as the host sees it.</param>
    /// <param name="deviceEvents">The collector the devices on both buses were built with.</param>
    public VmmCore(VmmOptions options, DeviceBus portBus, DeviceBus mmioBus, IHostMemory memory, DeviceEventCollector deviceEvents)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(portBus);
        ArgumentNullException.ThrowIfNull(mmioBus);
        ArgumentNullException.ThrowIfNull(memory);
        ArgumentNullException.ThrowIfNull(deviceEvents);
        ArgumentOutOfRangeException.ThrowIfLessThan(options.VcpuCount, 1, nameof(options));
        Options = options;
        _ports = portBus;
        _mmio = mmioBus;
        _memory = memory;
        _deviceEvents = deviceEvents;
        Msrs = new MsrFile(options.Msrs, options.VcpuCount);
        _pendingHalt = new TdVmcallCompleted?[options.VcpuCount];
        _notifyVector = new int[options.VcpuCount];
        Counters = new VmmCounters(options.VcpuCount);
        InitApic();
    }

    /// <summary>The options the VMM was built with.</summary>
    public VmmOptions Options { get; }

    /// <summary>Number of vCPUs.</summary>
    public int VcpuCount => Options.VcpuCount;

    /// <summary>MSR values; the host may read and preset them.</summary>
    public MsrFile Msrs { get; }

    /// <summary>The CPUID table.</summary>
    public CpuidTable Cpuid => Options.Cpuid;

    /// <summary>
    /// The host's vCPU ioctls for this TD (a <see cref="TdxSim.Abi.HostApi.VmType.Tdx"/> VM): every call KVM refuses for a TD is
    /// refused here too, so the VMM cannot read or set the guest's registers, inject events other than posted
    /// interrupts and a pending NMI, or map read-only memory.
    /// </summary>
    public TdxSim.Vmm.HostApi.HostVcpuApi HostApi => _hostApi ??= new TdxSim.Vmm.HostApi.HostVcpuApi(TdxSim.Abi.HostApi.VmType.Tdx, VcpuCount);

    /// <summary>Counts for the final-state dump.</summary>
    public VmmCounters Counters { get; }

    /// <summary>Handles one TDVMCALL.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The request names a vCPU the VMM does not have (a machine bug).</exception>
    /// <exception cref="InvalidOperationException">A halted vCPU made another request (a protocol bug).</exception>
    public VmcallOutcome Handle(TdVmcallRequested request)
    {
        ArgumentNullException.ThrowIfNull(request);
        CheckVcpu(request.Vcpu);
        if (Volatile.Read(ref _pendingHalt[request.Vcpu]) is not null)
        {
            throw new InvalidOperationException($"vCPU {request.Vcpu} made a TDVMCALL while halted in Instruction.HLT");
        }

        var call = new Call
        {
            Vcpu = request.Vcpu,
            Select = request.GprSelect,
            // Every register whose GPR_SELECT bit is clear reads as zero, whatever the request carried.
            Regs = request.Regs.Masked(request.GprSelect),
        };
        call.Subfunction = call.Regs[Gpr.R11];

        if (call.Regs[Gpr.R10] != TdVmcall.StandardCall)
        {
            return KvmHypercall(ref call);
        }

        return (TdVmcallSubfunction)call.Subfunction switch
        {
            TdVmcallSubfunction.InstructionIo => InstructionIo(ref call),
            TdVmcallSubfunction.VeRequestMmio => RequestMmio(ref call),
            TdVmcallSubfunction.InstructionCpuid => InstructionCpuid(ref call),
            TdVmcallSubfunction.InstructionRdmsr => InstructionRdmsr(ref call),
            TdVmcallSubfunction.InstructionWrmsr => InstructionWrmsr(ref call),
            TdVmcallSubfunction.InstructionHlt => InstructionHlt(ref call),
            TdVmcallSubfunction.InstructionWbinvd => Done(ref call, TdVmcall.Success), // caches are coherent here: nothing to write back
            TdVmcallSubfunction.GetTdVmCallInfo => GetTdVmCallInfo(ref call),
            TdVmcallSubfunction.MapGpa => MapGpa(ref call),
            TdVmcallSubfunction.GetQuote => GetQuote(ref call),
            TdVmcallSubfunction.ReportFatalError => ReportFatalError(ref call),
            TdVmcallSubfunction.SetupEventNotifyInterrupt => SetupEventNotifyInterrupt(ref call),
            _ => Done(ref call, TdVmcall.SubfuncUnsupported),
        };
    }

    /// <summary>True while <paramref name="vcpu"/> is blocked in Instruction.HLT.</summary>
    public bool IsHalted(int vcpu)
    {
        CheckVcpu(vcpu);
        return Volatile.Read(ref _pendingHalt[vcpu]) is not null;
    }

    /// <summary>
    /// Makes a halted vCPU runnable: returns the SUCCESS reply of its pending Instruction.HLT, or null when it is not
    /// halted (waking twice is harmless).
    /// </summary>
    public TdVmcallCompleted? Wake(int vcpu)
    {
        CheckVcpu(vcpu);
        TdVmcallCompleted? reply = Interlocked.Exchange(ref _pendingHalt[vcpu], null);
        if (reply is not null)
        {
            Volatile.Write(ref _wakePending[vcpu], 0);
            Counters.Completed(vcpu, reply.Subfunction, TdVmcall.Success);
        }

        return reply;
    }

    /// <summary>The vector <paramref name="vcpu"/> registered with SetupEventNotifyInterrupt, or null.</summary>
    public byte? NotifyVector(int vcpu)
    {
        CheckVcpu(vcpu);
        int v = Volatile.Read(ref _notifyVector[vcpu]);
        return v == 0 ? null : (byte)v;
    }

    private void CheckVcpu(int vcpu) =>
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual((uint)vcpu, (uint)VcpuCount, nameof(vcpu));

    /// <summary>Sets R10 to <paramref name="status"/>, counts, and builds the reply.</summary>
    private VmcallOutcome Done(ref Call call, ulong status, IReadOnlyList<ITdxMessage>? events = null, QuoteRequest? quote = null)
    {
        call.Regs[Gpr.R10] = status;
        Counters.Completed(call.Vcpu, call.Subfunction, status);
        return new VmcallOutcome(VmcallDisposition.Completed, Reply(ref call), events ?? NoEvents, quote);
    }

    private static TdVmcallCompleted Reply(ref Call call) => new(call.Vcpu, call.Subfunction, call.Select, call.Regs);

    /// <summary>A TDVMCALL being handled: the VMM's register view, inputs masked to GPR_SELECT.</summary>
    private struct Call
    {
        public int Vcpu;
        public ushort Select;
        public ulong Subfunction;
        public Gprs Regs;
    }
}
