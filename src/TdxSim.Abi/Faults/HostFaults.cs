using System.Collections.Concurrent;
using System.Numerics;

namespace TdxSim.Abi.Faults;

/// <summary>
/// What a hostile (malicious or buggy) host can do to a TD (contract section 10). The VMM injects all but
/// <see cref="OperandBusy"/>, which the TDX module returns when the host holds a lock it needs (SEPT contention).
/// </summary>
[Flags]
public enum HostFaultSet : uint
{
    /// <summary>No fault.</summary>
    None = 0,

    /// <summary>A TDVMCALL answered with an error status in R10 (INVALID_OPERAND, GPA_INUSE, ALIGN_ERROR, ...).</summary>
    ErrorStatus = 1 << 0,

    /// <summary>Random values in every register the guest selected, except the status.</summary>
    Garbage = 1 << 1,

    /// <summary>A read's value wider than the access: bits above the access size set (IN, MMIO read, CPUID).</summary>
    WrongWidth = 1 << 2,

    /// <summary>The reply comes 0.05 to 1 ms late.</summary>
    Delay = 1 << 3,

    /// <summary>The reply never comes.</summary>
    NoReply = 1 << 4,

    /// <summary>MapGPA answers TDVMCALL_STATUS_RETRY with no progress, for ever (on that vCPU).</summary>
    EndlessRetry = 1 << 5,

    /// <summary>The host zaps a page it just made shared: the guest's next access through the shared alias takes a #VE.</summary>
    SpuriousVe = 1 << 6,

    /// <summary>TDG.MEM.PAGE.ACCEPT or TDG.MR.RTMR.EXTEND returns TDX_OPERAND_BUSY (the host holds the SEPT or RTMR lock).</summary>
    OperandBusy = 1 << 7,

    /// <summary>Every kind.</summary>
    All = (1 << 8) - 1,
}

/// <summary>Names of the fault kinds, as scenarios, stderr and the message log's <c>fault</c> field spell them.</summary>
public static class HostFaultNames
{
    private static readonly (HostFaultSet Kind, string Name)[] Table =
    [
        (HostFaultSet.ErrorStatus, "error-status"),
        (HostFaultSet.Garbage, "garbage"),
        (HostFaultSet.WrongWidth, "wrong-width"),
        (HostFaultSet.Delay, "delay"),
        (HostFaultSet.NoReply, "no-reply"),
        (HostFaultSet.EndlessRetry, "endless-retry"),
        (HostFaultSet.SpuriousVe, "spurious-ve"),
        (HostFaultSet.OperandBusy, "operand-busy"),
    ];

    /// <summary>Every name, comma separated, in a fixed order.</summary>
    public static string Known { get; } = string.Join(", ", Table.Select(t => t.Name));

    /// <summary>The name of one kind (a single flag).</summary>
    public static string Name(HostFaultSet kind)
    {
        foreach ((HostFaultSet k, string n) in Table)
        {
            if (k == kind)
            {
                return n;
            }
        }

        throw new ArgumentOutOfRangeException(nameof(kind), kind, "not a single fault kind");
    }

    /// <summary>Parses one name.</summary>
    public static bool TryParse(string name, out HostFaultSet kind)
    {
        foreach ((HostFaultSet k, string n) in Table)
        {
            if (string.Equals(n, name, StringComparison.Ordinal))
            {
                kind = k;
                return true;
            }
        }

        kind = HostFaultSet.None;
        return false;
    }
}

/// <summary>The hostile host of a run: its seed, the kinds it may inject and the chance per eligible request.</summary>
/// <param name="Seed">Seed of every fault decision.</param>
/// <param name="Faults">The kinds it may inject.</param>
/// <param name="Rate">Probability, 0 to 1, that an eligible request gets a fault.</param>
public sealed record HostileVmmPlan(ulong Seed, HostFaultSet Faults, double Rate)
{
    /// <summary>The rate when none is given: one request in two hundred.</summary>
    public const double DefaultRate = 0.005;
}

/// <summary>One fault a hostile host injected.</summary>
/// <param name="Vcpu">The vCPU whose request it hit.</param>
/// <param name="Component">Who injected it: <c>vmm</c> or <c>tdx-module</c>.</param>
/// <param name="Kind">The kind (a single flag).</param>
/// <param name="Request">The request by name, e.g. <c>TDG.VP.VMCALL&lt;Instruction.IO&gt;</c>.</param>
/// <param name="Detail">What exactly was done (the status given, the delay, ...).</param>
public sealed record InjectedFault(int Vcpu, string Component, HostFaultSet Kind, string Request, string Detail)
{
    /// <summary>The kind's name.</summary>
    public string Name => HostFaultNames.Name(Kind);

    /// <inheritdoc/>
    public override string ToString() => $"vCPU {Vcpu}: {Request}: {Name} by the {Component} ({Detail})";
}

/// <summary>
/// Seeded fault decisions shared by the VMM and the TDX module of one TD, and the journal of what was injected.
/// Each (component, vCPU) pair draws from its own stream, so a vCPU's faults depend only on the seed and on its own
/// sequence of requests, not on how the vCPUs interleave. Thread-safe; a request for one vCPU never overlaps another
/// request of the same vCPU at the same component (the TDCALL protocol).
/// </summary>
public sealed class HostFaultInjector
{
    /// <summary>Component index of the VMM.</summary>
    public const int Vmm = 0;

    /// <summary>Component index of the TDX module.</summary>
    public const int Module = 1;

    private readonly ulong[] _state;
    private readonly ConcurrentQueue<InjectedFault> _journal = new();
    private readonly double _rate;
    private int _count;

    /// <summary>Creates the injector of a TD with <paramref name="vcpus"/> vCPUs.</summary>
    public HostFaultInjector(HostileVmmPlan plan, int vcpus)
    {
        ArgumentNullException.ThrowIfNull(plan);
        ArgumentOutOfRangeException.ThrowIfLessThan(vcpus, 1);
        if (!(plan.Rate >= 0 && plan.Rate <= 1))
        {
            throw new ArgumentOutOfRangeException(nameof(plan), plan.Rate, "rate must be between 0 and 1");
        }

        Plan = plan;
        _rate = plan.Rate;
        VcpuCount = vcpus;
        _state = new ulong[2 * vcpus];
        for (int i = 0; i < _state.Length; i++)
        {
            _state[i] = Mix(plan.Seed ^ Mix((ulong)i + 0x9E37_79B9_7F4A_7C15UL));
        }
    }

    /// <summary>The plan.</summary>
    public HostileVmmPlan Plan { get; }

    /// <summary>Number of vCPUs.</summary>
    public int VcpuCount { get; }

    /// <summary>How many faults were injected.</summary>
    public int Count => Volatile.Read(ref _count);

    /// <summary>Every fault injected so far, in the order they were recorded.</summary>
    public IReadOnlyList<InjectedFault> Snapshot() => [.. _journal];

    /// <summary>
    /// Decides whether a request of <paramref name="vcpu"/> at <paramref name="component"/>, for which the kinds
    /// <paramref name="eligible"/> make sense, gets a fault; if so, which one, and a random word for its details.
    /// </summary>
    public bool Draw(int component, int vcpu, HostFaultSet eligible, out HostFaultSet kind, out ulong random)
    {
        kind = HostFaultSet.None;
        random = 0;
        HostFaultSet candidates = eligible & Plan.Faults;
        if (candidates == HostFaultSet.None || (uint)vcpu >= (uint)VcpuCount)
        {
            return false;
        }

        ref ulong s = ref _state[(component * VcpuCount) + vcpu];
        if (ToUnit(Next(ref s)) >= _rate)
        {
            return false;
        }

        uint bits = (uint)candidates;
        int pick = (int)(Next(ref s) % (ulong)BitOperations.PopCount(bits));
        for (; pick > 0; pick--)
        {
            bits &= bits - 1;
        }

        kind = (HostFaultSet)(bits & (0u - bits));
        random = Next(ref s);
        return true;
    }

    /// <summary>Records an injected fault (allocates: faults are rare by design).</summary>
    public void Record(InjectedFault fault)
    {
        ArgumentNullException.ThrowIfNull(fault);
        _journal.Enqueue(fault);
        Interlocked.Increment(ref _count);
    }

    private static double ToUnit(ulong x) => (x >> 11) * (1.0 / (1UL << 53));

    private static ulong Next(ref ulong s)
    {
        s += 0x9E37_79B9_7F4A_7C15UL;
        return Mix(s);
    }

    private static ulong Mix(ulong z)
    {
        z = (z ^ (z >> 30)) * 0xBF58_476D_1CE4_E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D0_49BB_1331_11EBUL;
        return z ^ (z >> 31);
    }
}
