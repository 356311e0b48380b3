using System.Collections.Concurrent;
using System.Globalization;
using System.Reflection;
using Akka.Actor;
using TdxSim.Abi;
using TdxSim.Abi.Messages;
using TdxSim.Machine.Audit;
using TdxSim.Memory;
using TdxSim.Runtime.Tracing;
using TdxSim.Vmm.Memory;

namespace TdxSim.Machine.Tests.Security;

/// <summary>
/// Poisons a TD (registers at vCPU start, every accepted private page) and watches everything the VMM receives:
/// every message delivered to a <c>vmm</c> actor, and every access through the VMM's memory path
/// (<see cref="IHostMemory"/>). Violations are collected, never thrown (observers must not throw).
/// <list type="bullet">
/// <item>(a) a <see cref="TdVmcallRequested"/> with a non-zero register outside its GPR_SELECT, or poison anywhere
/// in a message to the VMM;</item>
/// <item>(b) a VMM read or write of a GPA with no shared page behind it, or poison in bytes the VMM read;</item>
/// <item>(c) a range MapGPA made shared that does not read all zeros through the host's view right after.</item>
/// </list>
/// </summary>
internal sealed class ConfidentialityAudit : IMachineInstrumentation, IDeliveryObserver
{
    private readonly ConcurrentQueue<string> _violations = new();
    private long _vmcalls;
    private long _vmmMessages;
    private long _hostReads;
    private long _hostWrites;
    private long _bytesRead;
    private long _sharedConversions;
    private long _bytesConverted;
    private long _poisonedBytes;

    /// <summary>When false, private memory is left zero (e.g. a Linux kernel that needs zeroed memory).</summary>
    public bool PoisonMemory { get; init; } = true;

    /// <summary>
    /// Private memory below this GPA is left as it is (default 0: all of it is poisoned). A Linux guest reads the BIOS
    /// data area below 1 MiB as firmware left it (the EBDA pointer at 0x40E: poison there reserves all of low memory,
    /// and the boot takes another path), so its audit poisons from 1 MiB.
    /// </summary>
    public ulong PoisonFrom { get; init; }

    /// <summary>
    /// When set, at the TDVMCALL with this number (1 = the first) the audit counts the poison still intact in private
    /// memory (<see cref="PoisonIntactBytes"/>): proof that the guest ran with poison in its memory. The vCPU that made
    /// the call waits for its reply meanwhile, so with one vCPU the memory holds still.
    /// </summary>
    public long? CountPoisonAtVmcall { get; init; }

    /// <summary>Poisoned bytes still intact at <see cref="CountPoisonAtVmcall"/> (whole 8-byte cycles), or -1 if not counted.</summary>
    public long PoisonIntactBytes { get; private set; } = -1;

    private GuestPhysicalMemory? _memory;

    /// <summary>Every violation seen, in order (at most the first 50 are kept).</summary>
    public IReadOnlyCollection<string> Violations => _violations;

    public long Vmcalls => Interlocked.Read(ref _vmcalls);

    public long VmmMessages => Interlocked.Read(ref _vmmMessages);

    public long HostReads => Interlocked.Read(ref _hostReads);

    public long HostWrites => Interlocked.Read(ref _hostWrites);

    public long BytesRead => Interlocked.Read(ref _bytesRead);

    public long SharedConversions => Interlocked.Read(ref _sharedConversions);

    public long BytesConverted => Interlocked.Read(ref _bytesConverted);

    public long PoisonedBytes => _poisonedBytes;

    /// <summary>One line for assertion messages.</summary>
    public string Summary => string.Create(CultureInfo.InvariantCulture,
        $"{VmmMessages} messages to the VMM ({Vmcalls} TDVMCALLs), {HostReads} host reads ({BytesRead} bytes), {HostWrites} host writes, {SharedConversions} conversions to shared ({BytesConverted} bytes), {PoisonedBytes} private bytes poisoned; violations: [{string.Join("; ", _violations)}]");

    internal void Violation(string what)
    {
        if (_violations.Count < 50)
        {
            _violations.Enqueue(what);
        }
    }

    // --- IMachineInstrumentation ---

    public void MemoryReserved(GuestPhysicalMemory memory)
    {
        _memory = memory;
        if (!PoisonMemory)
        {
            return;
        }

        byte[] page = new byte[GuestPhysical.PageSize];
        Poison.Fill(page, 0);
        for (ulong gpa = PoisonFrom & ~(GuestPhysical.PageSize - 1); gpa < memory.PrivateSize; gpa += GuestPhysical.PageSize)
        {
            // Pending pages (lazy accept) cannot be written: they read zero once accepted, as on hardware.
            if (memory.TryWritePrivate(gpa, page))
            {
                _poisonedBytes += page.Length;
            }
        }
    }

    public void VcpuReset(int vcpu, Span<ulong> gprs)
    {
        for (int i = 0; i < gprs.Length; i++)
        {
            if ((Poison.KeptRegisters & (1 << i)) == 0)
            {
                gprs[i] = Poison.Register(i);
            }
        }
    }

    public IHostMemory WrapHostMemory(IHostMemory host) => new AuditedHostMemory(host, this);

    // --- IDeliveryObserver ---

    public bool WantsSendTimes => false;

    public void OnDelivered(in Delivery delivery, IActorRef recipient)
    {
        if (!IsVmm(recipient))
        {
            return;
        }

        Interlocked.Increment(ref _vmmMessages);
        object message = delivery.Message;
        if (message is TdVmcallRequested request)
        {
            if (Interlocked.Increment(ref _vmcalls) == CountPoisonAtVmcall)
            {
                PoisonIntactBytes = CountIntactPoison();
            }

            for (int i = 0; i < Gprs.Count; i++)
            {
                ulong v = request.Regs[i];
                string name = GprNames.Get(i);
                if ((request.GprSelect & (1 << i)) == 0 && v != 0)
                {
                    Violation($"(a) vCPU {request.Vcpu} TDVMCALL R11=0x{request.Regs[Gpr.R11]:x}: unselected {name} = 0x{v:x} reached the VMM (GPR_SELECT 0x{request.GprSelect:x4})");
                }
                else if (Poison.In(v))
                {
                    Violation($"(a) vCPU {request.Vcpu} TDVMCALL R11=0x{request.Regs[Gpr.R11]:x}: selected {name} = 0x{v:x} carries poison (the guest selected a register it never set)");
                }
            }

            return;
        }

        ScanObject(message, 0, message.GetType().Name);
    }

    private long CountIntactPoison()
    {
        if (_memory is not { } memory)
        {
            return 0;
        }

        byte[] page = new byte[GuestPhysical.PageSize];
        byte[] poison = new byte[GuestPhysical.PageSize];
        Poison.Fill(poison, 0);
        long intact = 0;
        for (ulong gpa = 0; gpa < memory.PrivateSize; gpa += GuestPhysical.PageSize)
        {
            if (!memory.TryReadPrivate(gpa, page))
            {
                continue;
            }

            for (int i = 0; i < page.Length; i += 8)
            {
                if (page.AsSpan(i, 8).SequenceEqual(poison.AsSpan(i, 8)))
                {
                    intact += 8;
                }
            }
        }

        return intact;
    }

    public void OnUndelivered(in Delivery delivery, IActorRef recipient, UndeliveredReason reason)
    {
    }

    private static bool IsVmm(IActorRef recipient)
    {
        var elements = recipient.Path.Elements;
        return elements.Count >= 2 && (elements[^1] == "vmm" || elements[^2] == "vmm");
    }

    /// <summary>Any other message to the VMM: every integer, register block, byte array or string in it, recursively.</summary>
    private void ScanObject(object? o, int depth, string where)
    {
        if (o is null || depth > 3)
        {
            return;
        }

        switch (o)
        {
            case ulong u when Poison.In(u):
                Violation($"(a) {where} = 0x{u:x} carries poison");
                return;
            case long l when Poison.In((ulong)l):
                Violation($"(a) {where} = 0x{l:x} carries poison");
                return;
            case Gprs g:
                for (int i = 0; i < Gprs.Count; i++)
                {
                    ScanObject(g[i], depth + 1, $"{where}.{GprNames.Get(i)}");
                }

                return;
            case byte[] b when Poison.Find(b) >= 0:
                Violation($"(a) {where}: bytes carry poison at {Poison.Find(b)}");
                return;
            case string s when s.Contains("TDXPRIV", StringComparison.Ordinal):
                Violation($"(a) {where}: string carries poison");
                return;
            case ulong or long or int or uint or ushort or byte or bool or string or byte[] or Enum or IActorRef:
                return;
        }

        foreach (PropertyInfo p in o.GetType().GetProperties(BindingFlags.Public | BindingFlags.Instance))
        {
            if (p.GetIndexParameters().Length == 0 && p.Name != "EqualityContract")
            {
                ScanObject(p.GetValue(o), depth + 1, $"{where}.{p.Name}");
            }
        }
    }

    private static class GprNames
    {
        private static readonly string[] Names = ["rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi", "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15"];

        public static string Get(int i) => Names[i];
    }

    /// <summary>The VMM's memory path, watched.</summary>
    private sealed class AuditedHostMemory(IHostMemory inner, ConfidentialityAudit audit) : IHostMemory
    {
        public ulong PrivateSize => inner.PrivateSize;

        public ConversionResult ConvertToShared(ulong gpa, ulong size)
        {
            ConversionResult result = inner.ConvertToShared(gpa, size);
            if (result == ConversionResult.Success)
            {
                Interlocked.Increment(ref audit._sharedConversions);
                Interlocked.Add(ref audit._bytesConverted, (long)size);
                byte[] view = new byte[size];
                if (!inner.TryReadShared(gpa, view))
                {
                    audit.Violation($"(c) MapGPA made 0x{gpa:x}+0x{size:x} shared, but no shared page is behind it");
                }
                else if (Array.FindIndex(view, b => b != 0) is int nz and >= 0)
                {
                    audit.Violation($"(c) MapGPA made 0x{gpa:x}+0x{size:x} shared, but byte 0x{nz:x} reads 0x{view[nz]:x2}{(Poison.Find(view) >= 0 ? " (private poison leaked)" : string.Empty)}");
                }
            }

            return result;
        }

        public ConversionResult ConvertToPrivate(ulong gpa, ulong size) => inner.ConvertToPrivate(gpa, size);

        public bool IsSharedBacked(ulong gpa) => inner.IsSharedBacked(gpa);

        public bool TryReadShared(ulong gpa, Span<byte> destination)
        {
            Interlocked.Increment(ref audit._hostReads);
            CheckShared(gpa, destination.Length, "read");
            bool ok = inner.TryReadShared(gpa, destination);
            if (ok)
            {
                Interlocked.Add(ref audit._bytesRead, destination.Length);
                if (Poison.Find(destination) is int at and >= 0)
                {
                    audit.Violation($"(b) the VMM read poison at 0x{gpa + (ulong)at:x}");
                }
            }

            return ok;
        }

        public bool TryWriteShared(ulong gpa, ReadOnlySpan<byte> source)
        {
            Interlocked.Increment(ref audit._hostWrites);
            CheckShared(gpa, source.Length, "write");
            return inner.TryWriteShared(gpa, source);
        }

        /// <summary>Every page of the access must be shared-backed: the VMM never even tries private memory.</summary>
        private void CheckShared(ulong gpa, int length, string what)
        {
            ulong page = GuestPhysical.StripShared(gpa) & ~(GuestPhysical.PageSize - 1);
            ulong end = GuestPhysical.StripShared(gpa) + (ulong)Math.Max(length, 1);
            for (; page < end; page += GuestPhysical.PageSize)
            {
                if (!inner.IsSharedBacked(page))
                {
                    audit.Violation($"(b) VMM {what} of {length} bytes at 0x{gpa:x}: page 0x{page:x} is not shared");
                    return;
                }
            }
        }
    }
}
