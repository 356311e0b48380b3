using TdxSim.Abi;
using TdxSim.Abi.Messages;
using TdxSim.Vmm;

namespace TdxSim.Devices.Tests.Vmm;

public class DispatchTests
{
    private readonly VmmBed _bed = new();

    [Theory]
    [InlineData(0UL)]
    [InlineData(1UL)]
    [InlineData(13UL)]    // INVD is not a TDVMCALL
    [InlineData(65UL)]    // Instruction.PCONFIG: not offered
    [InlineData(0x10005UL)] // Service: not offered
    [InlineData(0xFFFF_FFFFUL)]
    public void UnknownSubfunction_IsSubfuncUnsupported(ulong subfunction)
    {
        VmcallOutcome outcome = _bed.Vmm.Handle(VmmBed.Request(subfunction, 1, 1, 0x30, 0));

        Assert.Equal(TdVmcall.SubfuncUnsupported, outcome.Reply!.VmcallStatus);
        Assert.Empty(outcome.Events);
    }

    [Fact]
    public void KvmHypercall_ReturnsEnosys_AndTouchesNothing()
    {
        // R10 = 1 (a KVM hypercall number) with registers that would otherwise be an OUT to the report port.
        TdVmcallRequested request = VmmBed.Request(30, 4, 1, 0x31, 0x1234, more: (ref Gprs r) => r[Gpr.R10] = 1);

        VmcallOutcome outcome = _bed.Vmm.Handle(request);

        Assert.Equal(VmcallDisposition.Completed, outcome.Disposition);
        Assert.Equal(unchecked((ulong)-1000L), outcome.Reply!.VmcallStatus);
        Gprs expected = request.Regs;
        expected[Gpr.R10] = unchecked((ulong)-1000L);
        Assert.Equal(expected, outcome.Reply.Regs);
        Assert.Empty(outcome.Events);
        Assert.Equal(0, _bed.Devices.GetCounters()["device.selftest.writes"]);
        Assert.Equal(1, _bed.Vmm.Counters.Snapshot()["tdvmcall.kvm_hypercall.ENOSYS"]);
    }

    [Fact]
    public void NonSelectedRegisters_ReadAsZero_EvenIfTheRequestCarriesValues()
    {
        // The guest forgot R14 in GPR_SELECT: the port is 0, not COM1's LSR, whatever the unmasked value was.
        const ushort select = TdVmcall.LinuxSelectMask & unchecked((ushort)~GprMask.R14);
        Gprs regs = default;
        regs[Gpr.R11] = 30;
        regs[Gpr.R12] = 1;
        regs[Gpr.R13] = TdVmcall.IoDirectionIn;
        regs[Gpr.R14] = 0x3FD;
        var request = new TdVmcallRequested(0, select, regs); // deliberately not masked

        TdVmcallCompleted reply = _bed.Vmm.Handle(request).Reply!;

        Assert.Equal(TdVmcall.Success, reply.VmcallStatus);
        Assert.Equal(0xFFUL, reply.Regs[Gpr.R11]); // port 0 is unclaimed
        Assert.Equal(0UL, reply.Regs[Gpr.R14]);
        Assert.Equal(0, _bed.Devices.GetCounters()["device.com1.reads"]);
    }

    [Fact]
    public void NonSelectedR15_OutWritesZero()
    {
        const ushort select = TdVmcall.LinuxSelectMask & unchecked((ushort)~GprMask.R15);
        Gprs regs = default;
        regs[Gpr.R11] = 30;
        regs[Gpr.R12] = 4;
        regs[Gpr.R13] = TdVmcall.IoDirectionOut;
        regs[Gpr.R14] = 0x31;
        regs[Gpr.R15] = 0xDEAD;

        VmcallOutcome outcome = _bed.Vmm.Handle(new TdVmcallRequested(2, select, regs));

        Assert.Equal(new SelftestReported(2, 0), Assert.Single(outcome.Events));
    }

    [Fact]
    public void NonSelectedR11_MeansSubfunctionZero()
    {
        const ushort select = TdVmcall.LinuxSelectMask & unchecked((ushort)~GprMask.R11);
        Gprs regs = default;
        regs[Gpr.R11] = 30;

        Assert.Equal(TdVmcall.SubfuncUnsupported, _bed.Vmm.Handle(new TdVmcallRequested(0, select, regs)).Reply!.VmcallStatus);
    }

    [Fact]
    public void Reply_EchoesVcpuSubfunctionAndSelect()
    {
        const ushort select = 0xFC00; // Linux v5.19 to 6.5: R10 to R15 only
        TdVmcallCompleted reply = _bed.Vmm.Handle(VmmBed.Request(30, 1, 0, 0x3FD, 0, vcpu: 3, select: select)).Reply!;

        Assert.Equal(3, reply.Vcpu);
        Assert.Equal(30UL, reply.Subfunction);
        Assert.Equal(select, reply.GprSelect);
    }

    [Fact]
    public void Wbinvd_Succeeds()
    {
        Assert.Equal(TdVmcall.Success, _bed.Complete(TdVmcallSubfunction.InstructionWbinvd).VmcallStatus);
    }

    [Fact]
    public void UnknownVcpu_Throws()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => _bed.Vmm.Handle(VmmBed.Request(30, 1, 0, 0x80, 0, vcpu: 4)));
        Assert.Throws<ArgumentOutOfRangeException>(() => _bed.Vmm.Handle(VmmBed.Request(30, 1, 0, 0x80, 0, vcpu: -1)));
    }

    [Fact]
    public void DeviceEventOutsideVmmAccess_Throws()
    {
        var e = Assert.Throws<InvalidOperationException>(() => _bed.Devices.PortBus.Write(0x30, 4, 0));

        Assert.Contains("outside a VMM access", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ConcurrentVcpus_EventsAttributedToTheirOwnVcpu()
    {
        var misattributed = 0;
        Parallel.For(0, 4, vcpu =>
        {
            for (int i = 0; i < 2_000; i++)
            {
                ulong value = ((ulong)vcpu << 16) | (uint)i;
                VmcallOutcome o = _bed.Vmm.Handle(VmmBed.Request(30, 4, TdVmcall.IoDirectionOut, 0x31, value, vcpu));
                var report = (SelftestReported)Assert.Single(o.Events);
                if (report.Vcpu != vcpu || (int)(report.Value >> 16) != vcpu || (report.Value & 0xFFFF) != (ulong)i)
                {
                    Interlocked.Increment(ref misattributed);
                }
            }
        });

        Assert.Equal(0, misattributed);
        Assert.Equal(8_000, _bed.Vmm.Counters.Snapshot()["tdvmcall.Instruction.IO.SUCCESS"]);
    }

    [Fact]
    public void Counters_ByNameAndStatus()
    {
        _bed.PortOut(0x80, 1, 1);
        _bed.PortOut(0x80, 1, 2);
        _bed.Complete(TdVmcallSubfunction.InstructionIo, 3, 0, 0x80);
        _bed.Vmm.Handle(VmmBed.Request(0x99));
        _bed.Vmm.Handle(VmmBed.Request(65));

        IReadOnlyDictionary<string, long> c = _bed.Vmm.Counters.Snapshot();

        Assert.Equal(2, c["tdvmcall.Instruction.IO.SUCCESS"]);
        Assert.Equal(1, c["tdvmcall.Instruction.IO.INVALID_OPERAND"]);
        Assert.Equal(1, c["tdvmcall.other.SUBFUNC_UNSUPPORTED"]);
        Assert.Equal(1, c["tdvmcall.Instruction.PCONFIG.SUBFUNC_UNSUPPORTED"]);
        Assert.Equal(4, c.Count);
        Assert.Equal(2, _bed.Vmm.Counters.Count(TdVmcallSubfunction.InstructionIo, TdVmcall.Success));
    }

    [Fact]
    public void Counters_EverySubfunctionCountedUnderItsOwnName()
    {
        foreach (TdVmcallSubfunction sub in Enum.GetValues<TdVmcallSubfunction>())
        {
            var bed = new VmmBed();
            VmcallOutcome outcome = bed.Vmm.Handle(VmmBed.Request((ulong)sub));
            string status = outcome.Disposition switch
            {
                VmcallDisposition.Halted => "halted",
                VmcallDisposition.NoReply => "no_reply",
                _ => TdVmcall.StatusName(outcome.Reply!.VmcallStatus).Replace("TDG.VP.VMCALL_", "", StringComparison.Ordinal),
            };

            IReadOnlyDictionary<string, long> c = bed.Vmm.Counters.Snapshot();
            Assert.Equal(1, Assert.Single(c).Value);
            Assert.Equal($"tdvmcall.{TdVmcall.SubfunctionName((ulong)sub)}.{status}", c.Keys.Single());
        }
    }

    [Fact]
    public void Handle_PortIo_AllocatesOnlyTheReply()
    {
        TdVmcallRequested request = VmmBed.Request(30, 1, TdVmcall.IoDirectionIn, 0x3FD);
        for (int i = 0; i < 20_000; i++)
        {
            _bed.Vmm.Handle(request);
        }

        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 10_000; i++)
        {
            _bed.Vmm.Handle(request);
        }

        double perCall = (GC.GetAllocatedBytesForCurrentThread() - before) / 10_000.0;
        Assert.InRange(perCall, 1, 200); // one TdVmcallCompleted: header, vCPU, select, sub-function, 16 registers
    }
}
