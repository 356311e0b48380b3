using TdxSim.Abi;
using TdxSim.Abi.Messages;
using Akka.Actor;
using TdxSim.Runtime.Tracing;
using TdxSim.Runtime.Time;
using TdxSim.Machine.Logging;

namespace TdxSim.Machine.Tests.Logging;

/// <summary>An <see cref="IActorRef"/> that only has a path: the recorder never sends through refs.</summary>
internal sealed class FakeActorRef : MinimalActorRef
{
    private static readonly Address Local = new("akka", "td");

    public FakeActorRef(string path)
    {
        ActorPath p = new RootActorPath(Local);
        foreach (string element in path.Split('/', StringSplitOptions.RemoveEmptyEntries))
        {
            p /= element;
        }

        Path = p;
    }

    public override ActorPath Path { get; }

    public override IActorRefProvider Provider => throw new NotSupportedException("A fake ref has no provider.");

    public string Name => Path.Name;

    protected override void TellInternal(object message, IActorRef sender) => throw new NotSupportedException("The recorder must not send messages.");
}

/// <summary>Runs a body on several threads at once, for the recorder's concurrency tests.</summary>
internal static class Concurrently
{
    /// <summary>Starts <paramref name="threads"/> threads that pass a barrier together, then run <paramref name="body"/>(index); waits for all.</summary>
    public static void Run(int threads, Action<int> body)
    {
        using var start = new Barrier(threads);
        Thread[] started = [.. Enumerable.Range(0, threads).Select(t => new Thread(() =>
        {
            start.SignalAndWait();
            body(t);
        }))];
        foreach (Thread thread in started)
        {
            thread.Start();
        }

        foreach (Thread thread in started)
        {
            thread.Join();
        }
    }
}

/// <summary>The machine's actors as fake refs, and builders for the protocol messages of typical flows.</summary>
internal static class Td
{
    public static readonly FakeActorRef Module = new("/user/machine/tdx-module");
    public static readonly FakeActorRef Vmm = new("/user/machine/vmm");
    public static readonly FakeActorRef MachineRoot = new("/user/machine");

    private static readonly Dictionary<int, FakeActorRef> Vcpus = [];

    public static FakeActorRef Vcpu(int index)
    {
        lock (Vcpus)
        {
            if (!Vcpus.TryGetValue(index, out FakeActorRef? r))
            {
                r = new FakeActorRef($"/user/machine/vcpu/{index}");
                Vcpus.Add(index, r);
            }

            return r;
        }
    }

    /// <summary>TDG.VP.VMCALL&lt;Instruction.IO&gt; with Linux's GPR_SELECT (0xFFCC) as RCX.</summary>
    public static TdcallRequested VmcallIo(int vcpu, ushort port, bool output, int size, ulong value)
    {
        Gprs r = default;
        r[Gpr.Rax] = (ulong)TdcallLeaf.VpVmcall;
        r[Gpr.Rcx] = TdVmcall.LinuxSelectMask;
        r[Gpr.R10] = TdVmcall.StandardCall;
        r[Gpr.R11] = (ulong)TdVmcallSubfunction.InstructionIo;
        r[Gpr.R12] = (ulong)size;
        r[Gpr.R13] = output ? TdVmcall.IoDirectionOut : TdVmcall.IoDirectionIn;
        r[Gpr.R14] = port;
        r[Gpr.R15] = value;
        r[Gpr.Rdi] = 0xDEAD; // selected by 0xFFCC
        r[Gpr.Rbp] = 0xBAD;  // never selected: must not reach the log of a TDVMCALL
        return new TdcallRequested(vcpu, r);
    }

    public static TdcallRequested VmcallMmio(int vcpu, ulong gpa, bool write, int size, ulong value)
    {
        Gprs r = default;
        r[Gpr.Rax] = (ulong)TdcallLeaf.VpVmcall;
        r[Gpr.Rcx] = TdVmcall.LinuxSelectMask;
        r[Gpr.R11] = (ulong)TdVmcallSubfunction.VeRequestMmio;
        r[Gpr.R12] = (ulong)size;
        r[Gpr.R13] = write ? TdVmcall.MmioWrite : TdVmcall.MmioRead;
        r[Gpr.R14] = gpa;
        r[Gpr.R15] = value;
        return new TdcallRequested(vcpu, r);
    }

    public static TdVmcallRequested ToVmm(TdcallRequested call)
    {
        ushort select = (ushort)call.Regs[Gpr.Rcx];
        return new TdVmcallRequested(call.Vcpu, select, call.Regs.Masked(select));
    }

    public static TdVmcallCompleted FromVmm(TdVmcallRequested request, ulong status = TdVmcall.Success, ulong r11 = 0)
    {
        Gprs r = default;
        r[Gpr.R10] = status;
        r[Gpr.R11] = r11;
        return new TdVmcallCompleted(request.Vcpu, request.Subfunction, GprMask.R10 | GprMask.R11, r);
    }

    public static TdcallCompleted Completed(int vcpu, TdcallLeaf leaf, ulong status = TdxStatus.Success, ushort written = GprMask.Rax, Gprs regs = default)
    {
        regs[Gpr.Rax] = status;
        return new TdcallCompleted(vcpu, (ushort)leaf, written, regs);
    }

    public static TdcallRequested VeinfoGet(int vcpu)
    {
        Gprs r = default;
        r[Gpr.Rax] = (ulong)TdcallLeaf.VpVeinfoGet;
        return new TdcallRequested(vcpu, r);
    }

    public static TdcallCompleted VeinfoReturned(int vcpu, VeInfo info)
    {
        Gprs r = default;
        r[Gpr.Rcx] = (ulong)info.ExitReason;
        r[Gpr.Rdx] = info.ExitQualification;
        r[Gpr.R8] = info.Gla;
        r[Gpr.R9] = info.Gpa;
        r[Gpr.R10] = info.InstructionLength;
        return Completed(vcpu, TdcallLeaf.VpVeinfoGet, TdxStatus.Success, GprMask.Rax | GprMask.Rcx | GprMask.Rdx | GprMask.R8 | GprMask.R9 | GprMask.R10, r);
    }

    public static VeInfo IoExit(ushort port, bool isIn, int size) =>
        new(VeExitReason.IoInstruction, IoQualification.Encode(size, isIn, port), 0, 0, 1, 0);

    public static VeInfo EptExit(ulong gpa) => new(VeExitReason.EptViolation, EptQualification.Read, 0, gpa, 3, 0);
}

/// <summary>
/// Drives a recorder like a dispatcher would: each delivery advances a virtual clock by a chosen delay and the
/// envelope's send time is the clock reading when the previous message was handled.
/// </summary>
internal sealed class FlowDriver
{
    private readonly MessageRecorder _recorder;
    private readonly ManualClock _clock;

    public FlowDriver(MessageRecorder recorder, ManualClock clock)
    {
        _recorder = recorder;
        _clock = clock;
    }

    /// <summary>Sends at now + <paramref name="handleNs"/> and delivers <paramref name="queueNs"/> later.</summary>
    public void Deliver(object message, IActorRef? from, IActorRef to, long corr, long handleNs = 50, long queueNs = 20)
    {
        _clock.AdvanceBy(handleNs);
        long sent = _clock.NowNanoseconds;
        _clock.AdvanceBy(queueNs);
        _recorder.OnDelivered(new Delivery(message, from, corr, sent), to);
    }

    /// <summary>The #VE flow of an OUT to <paramref name="port"/> on <paramref name="vcpu"/> (guest kernel handler, contract 3).</summary>
    public void VeIo(int vcpu, long corr, ushort port, ulong value, long vmmNs = 300)
    {
        FakeActorRef v = Td.Vcpu(vcpu);
        VeInfo exit = Td.IoExit(port, isIn: false, size: 1);
        Deliver(new TdExited(vcpu, exit, default), v, Td.Module, corr);
        Deliver(new TdEntered(vcpu, TdEntryAction.VeInjected, exit, 0, default), Td.Module, v, corr);
        Deliver(Td.VeinfoGet(vcpu), v, Td.Module, corr);
        Deliver(Td.VeinfoReturned(vcpu, exit), Td.Module, v, corr);
        TdcallRequested call = Td.VmcallIo(vcpu, port, output: true, size: 1, value);
        Deliver(call, v, Td.Module, corr);
        TdVmcallRequested toVmm = Td.ToVmm(call);
        Deliver(toVmm, Td.Module, Td.Vmm, corr);
        Deliver(Td.FromVmm(toVmm), Td.Vmm, Td.Module, corr, handleNs: vmmNs);
        Deliver(Td.Completed(vcpu, TdcallLeaf.VpVmcall, written: GprMask.Rax | GprMask.R10 | GprMask.R11), Td.Module, v, corr);
    }

    /// <summary>A paravirt TDG.VP.VMCALL&lt;Instruction.IO&gt; from guest code.</summary>
    public void ParavirtIo(int vcpu, long corr, ushort port, ulong value, long vmmNs = 200)
    {
        FakeActorRef v = Td.Vcpu(vcpu);
        TdcallRequested call = Td.VmcallIo(vcpu, port, output: true, size: 1, value);
        Deliver(call, v, Td.Module, corr);
        TdVmcallRequested toVmm = Td.ToVmm(call);
        Deliver(toVmm, Td.Module, Td.Vmm, corr);
        Deliver(Td.FromVmm(toVmm), Td.Vmm, Td.Module, corr, handleNs: vmmNs);
        Deliver(Td.Completed(vcpu, TdcallLeaf.VpVmcall, written: GprMask.Rax | GprMask.R10 | GprMask.R11), Td.Module, v, corr);
    }

    /// <summary>A CPUID the module emulates without #VE.</summary>
    public void EmulatedCpuid(int vcpu, long corr)
    {
        FakeActorRef v = Td.Vcpu(vcpu);
        var exit = new VeInfo(VeExitReason.Cpuid, 0, 0, 0, 2, 0);
        Deliver(new TdExited(vcpu, exit, default), v, Td.Module, corr);
        Deliver(new TdEntered(vcpu, TdEntryAction.Emulated, exit, GprMask.Rax | GprMask.Rbx | GprMask.Rcx | GprMask.Rdx, default), Td.Module, v, corr);
    }
}

/// <summary>A stream that fails every write after a number of successful ones.</summary>
internal sealed class FailingStream : MemoryStream
{
    private int _writesLeft;

    public FailingStream(int successfulWrites) => _writesLeft = successfulWrites;

    public override void Write(ReadOnlySpan<byte> buffer)
    {
        if (_writesLeft-- <= 0)
        {
            throw new IOException("No space left on device (simulated)");
        }

        base.Write(buffer);
    }

    public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));
}

/// <summary>A sink that takes its time, to exercise backpressure.</summary>
internal sealed class SlowSink : MessageLogSink
{
    private readonly TimeSpan _delay;
    private readonly List<long> _seqs = [];

    public SlowSink(TimeSpan delay)
        : base("slow") => _delay = delay;

    public IReadOnlyList<long> Seqs => _seqs;

    protected override void WriteRecord(in MessageRecord record)
    {
        Thread.Sleep(_delay);
        _seqs.Add(record.Seq);
    }
}
