using TdxSim.Abi;
using TdxSim.Abi.Messages;
using TdxSim.Vmm;

namespace TdxSim.Devices.Tests.Vmm;

/// <summary>Sets registers of a request being built.</summary>
internal delegate void GprsSetter(ref Gprs regs);

/// <summary>A VMM over the default devices and a fake memory, with helpers that build TDVMCALL requests.</summary>
internal sealed class VmmBed
{
    public const ulong Shared = GuestPhysical.SharedBit;
    public const ulong MiB = 1UL << 20;

    public VmmBed(VmmOptions? options = null, ulong privateSize = 64 * MiB)
    {
        Memory = new FakeHostMemory(privateSize);
        Events = new DeviceEventCollector();
        Com1 = new MemoryByteSink();
        Devices = MachineDevices.CreateDefault(Com1, Events);
        Vmm = new VmmCore(options ?? new VmmOptions { VcpuCount = 4 }, Devices.PortBus, Devices.MmioBus, Memory, Events);
    }

    public FakeHostMemory Memory { get; }

    public DeviceEventCollector Events { get; }

    public MemoryByteSink Com1 { get; }

    public MachineDevices Devices { get; }

    public VmmCore Vmm { get; }

    /// <summary>A request as the TDX module would present it: registers outside <paramref name="select"/> zeroed.</summary>
    public static TdVmcallRequested Request(ulong subfunction, ulong r12 = 0, ulong r13 = 0, ulong r14 = 0, ulong r15 = 0,
        int vcpu = 0, ushort select = TdVmcall.LinuxSelectMask, GprsSetter? more = null)
    {
        Gprs regs = default;
        regs[Gpr.R11] = subfunction;
        regs[Gpr.R12] = r12;
        regs[Gpr.R13] = r13;
        regs[Gpr.R14] = r14;
        regs[Gpr.R15] = r15;
        more?.Invoke(ref regs);
        return new TdVmcallRequested(vcpu, select, regs.Masked(select));
    }

    public VmcallOutcome Call(TdVmcallSubfunction subfunction, ulong r12 = 0, ulong r13 = 0, ulong r14 = 0, ulong r15 = 0, int vcpu = 0) =>
        Vmm.Handle(Request((ulong)subfunction, r12, r13, r14, r15, vcpu));

    /// <summary>Handles a call that must complete now and returns its reply.</summary>
    public TdVmcallCompleted Complete(TdVmcallSubfunction subfunction, ulong r12 = 0, ulong r13 = 0, ulong r14 = 0, ulong r15 = 0, int vcpu = 0)
    {
        VmcallOutcome outcome = Call(subfunction, r12, r13, r14, r15, vcpu);
        Assert.Equal(VmcallDisposition.Completed, outcome.Disposition);
        return outcome.Reply!;
    }

    public TdVmcallCompleted PortOut(ushort port, int size, ulong value, int vcpu = 0) =>
        Complete(TdVmcallSubfunction.InstructionIo, (ulong)size, TdVmcall.IoDirectionOut, port, value, vcpu);

    public TdVmcallCompleted PortIn(ushort port, int size, int vcpu = 0) =>
        Complete(TdVmcallSubfunction.InstructionIo, (ulong)size, TdVmcall.IoDirectionIn, port, 0, vcpu);

    public TdVmcallCompleted MmioWrite(ulong gpa, int size, ulong value) =>
        Complete(TdVmcallSubfunction.VeRequestMmio, (ulong)size, TdVmcall.MmioWrite, gpa, value);

    public TdVmcallCompleted MmioRead(ulong gpa, int size) =>
        Complete(TdVmcallSubfunction.VeRequestMmio, (ulong)size, TdVmcall.MmioRead, gpa);
}
