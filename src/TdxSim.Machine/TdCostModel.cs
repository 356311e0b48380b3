using System.Globalization;
using Akka.Actor;
using TdxSim.Abi;
using TdxSim.Abi.Messages;
using TdxSim.Runtime.Counters;
using TdxSim.Runtime.Tracing;

namespace TdxSim.Machine;

/// <summary>
/// Virtual-time costs of deterministic mode's discrete-event simulation (scenario key <c>cost_model</c>). Defaults
/// are round figures for a ~3 GHz host (a TDX module transition of a few hundred cycles; a VMM round trip of a
/// userspace exit); change them to ask contention questions whose answers do not depend on the host.
/// </summary>
public sealed record CostModelSettings
{
    /// <summary>The keys of <c>cost_model</c> that take one number.</summary>
    public static readonly IReadOnlyList<string> ScalarKeys =
        ["instruction_ns", "pause_ns", "pause_exit_ns", "transit_ns", "tdcall_ns", "td_exit_ns", "td_entry_ns", "vmm_ns", "other_ns"];

    /// <summary>The keys of <c>cost_model</c> that take a mapping of names to numbers.</summary>
    public static readonly IReadOnlyList<string> MapKeys = ["leaf_ns", "subfn_ns", "device_ns", "message_ns"];

    /// <summary>Virtual nanoseconds per guest instruction retired.</summary>
    public double InstructionNs { get; init; } = 0.5;

    /// <summary>
    /// One PAUSE, on top of <see cref="InstructionNs"/>: its latency, about 140 cycles on Intel cores since Skylake
    /// (Intel's optimization manual), so a spin-wait loop turns at the hardware's pace, not at the pace of plain
    /// instructions.
    /// </summary>
    public long PauseNs { get; init; } = 40;

    /// <summary>
    /// A pause-loop exit: a spinning vCPU leaves the guest after a few PAUSEs and the host runs something else, as
    /// PLE does. Without it a spinner's yield would cost a few instructions of virtual time, and spinning vCPUs
    /// would take thousands of turns while the lock holder waits for a VMM. In a TD the exit goes through the TDX
    /// module both ways (<see cref="TdExitNs"/> + <see cref="TdEntryNs"/>, 400 ns) and KVM's spin handler
    /// (<c>kvm_vcpu_on_spin</c>, a directed-yield attempt) runs in between: 1 µs in all.
    /// </summary>
    public long PauseExitNs { get; init; } = 1_000;

    /// <summary>From a send to the message's arrival in the receiver's mailbox.</summary>
    public long TransitNs { get; init; }

    /// <summary>The TDX module handling one TDCALL (SEAM transition included), or any other message it gets.</summary>
    public long TdcallNs { get; init; } = 150;

    /// <summary>A TD exit reaching the TDX module (and the decision to emulate or inject #VE).</summary>
    public long TdExitNs { get; init; } = 300;

    /// <summary>Re-entering the guest after a TDCALL or TD exit (TD entry), paid by the vCPU.</summary>
    public long TdEntryNs { get; init; } = 100;

    /// <summary>The VMM handling one TDVMCALL (a KVM exit to userspace and back).</summary>
    public long VmmNs { get; init; } = 1_500;

    /// <summary>Any other message (machine bookkeeping).</summary>
    public long OtherNs { get; init; } = 10;

    /// <summary>Per TDCALL leaf by spec name (<c>TDG.MEM.PAGE.ACCEPT</c>): replaces <see cref="TdcallNs"/> for that leaf.</summary>
    public IReadOnlyDictionary<string, long> LeafNs { get; init; } = new SortedDictionary<string, long>(StringComparer.Ordinal);

    /// <summary>Per TDVMCALL sub-function by GHCI name (<c>Instruction.IO</c>): replaces <see cref="VmmNs"/> for it.</summary>
    public IReadOnlyDictionary<string, long> SubfnNs { get; init; } = new SortedDictionary<string, long>(StringComparer.Ordinal);

    /// <summary>
    /// Per device by name (<c>com1</c>, <c>ioapic</c>, ...): how long a VMM holds the device's lock for one access,
    /// added to the VMM's cost; VMMs that reach a device while another holds it wait (per-vCPU VMMs contend).
    /// </summary>
    public IReadOnlyDictionary<string, long> DeviceNs { get; init; } = new SortedDictionary<string, long>(StringComparer.Ordinal);

    /// <summary>Per message type name (<c>TdcallRequested</c>): replaces the cost by role for that type.</summary>
    public IReadOnlyDictionary<string, long> MessageNs { get; init; } = new SortedDictionary<string, long>(StringComparer.Ordinal);

    /// <summary>The TDCALL leaves <c>leaf_ns</c> may name.</summary>
    public static IEnumerable<(string Name, ushort Leaf)> Leaves()
    {
        for (ushort leaf = 0; leaf < 64; leaf++)
        {
            string name = TdcallLeafInfo.SpecName(leaf);
            if (!name.StartsWith("TDCALL(", StringComparison.Ordinal))
            {
                yield return (name, leaf);
            }
        }
    }

    /// <summary>The TDVMCALL sub-functions <c>subfn_ns</c> may name.</summary>
    public static IEnumerable<(string Name, ulong Subfunction)> Subfunctions() =>
        Enum.GetValues<TdVmcallSubfunction>().Select(s => (TdVmcall.SubfunctionName((ulong)s), (ulong)s));

    /// <summary>The message types <c>message_ns</c> may name.</summary>
    public static IEnumerable<string> MessageTypes() =>
        typeof(ITdxMessage).Assembly.GetTypes()
            .Where(t => typeof(ITdxMessage).IsAssignableFrom(t) && t is { IsClass: true, IsAbstract: false })
            .Select(t => t.Name)
            .Order(StringComparer.Ordinal);

    /// <summary>
    /// These settings with one cost changed: <paramref name="key"/> is a scalar key (<c>vmm_ns</c>) or a map key and
    /// a name (<c>device_ns</c>, <c>com1</c>). Fails with a message naming what is wrong: an unknown key or name, or a
    /// cost that is negative or not a number.
    /// </summary>
    /// <param name="key">The key.</param>
    /// <param name="name">The name within a map key, or null for a scalar key.</param>
    /// <param name="value">The cost, in nanoseconds (a decimal number; a fraction only for <c>instruction_ns</c>).</param>
    /// <param name="error">Why it cannot be set.</param>
    public CostModelSettings? With(string key, string? name, string value, out CostSettingError? error)
    {
        ArgumentNullException.ThrowIfNull(key);
        ArgumentNullException.ThrowIfNull(value);
        error = null;
        bool isMap = MapKeys.Contains(key);
        if (!isMap && !ScalarKeys.Contains(key))
        {
            error = new CostSettingError(CostSettingProblem.UnknownKey, $"unknown cost key '{key}' (known: {string.Join(", ", ScalarKeys.Concat(MapKeys))})");
            return null;
        }

        if (isMap != (name is not null))
        {
            error = new CostSettingError(CostSettingProblem.Shape, isMap ? $"{key} is a mapping of names to nanoseconds" : $"{key} takes one number of nanoseconds");
            return null;
        }

        if (key == "instruction_ns")
        {
            if (!double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out double perInstruction)
                || !double.IsFinite(perInstruction) || perInstruction < 0 || perInstruction > 1e6)
            {
                error = new CostSettingError(CostSettingProblem.Value, $"instruction_ns: '{value}' is not a cost in nanoseconds (0 to 1000000)");
                return null;
            }

            return this with { InstructionNs = perInstruction };
        }

        if (!long.TryParse(value, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long ns) || ns < 0 || ns > MaxCostNs)
        {
            string what = name is null ? key : $"{key} {name}";
            error = new CostSettingError(
                CostSettingProblem.Value,
                value.StartsWith('-') && long.TryParse(value, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out _)
                    ? $"{what}: a cost cannot be negative ({value})"
                    : $"{what}: '{value}' is not a cost in whole nanoseconds (0 to {MaxCostNs})");
            return null;
        }

        switch (key)
        {
            case "transit_ns": return this with { TransitNs = ns };
            case "pause_ns": return this with { PauseNs = ns };
            case "pause_exit_ns": return this with { PauseExitNs = ns };
            case "tdcall_ns": return this with { TdcallNs = ns };
            case "td_exit_ns": return this with { TdExitNs = ns };
            case "td_entry_ns": return this with { TdEntryNs = ns };
            case "vmm_ns": return this with { VmmNs = ns };
            case "other_ns": return this with { OtherNs = ns };
        }

        IEnumerable<string> known = key switch
        {
            "leaf_ns" => Leaves().Select(l => l.Name),
            "subfn_ns" => Subfunctions().Select(s => s.Name),
            "device_ns" => Devices.MachineDevices.DeviceNames,
            _ => MessageTypes(),
        };
        if (!known.Contains(name, StringComparer.Ordinal))
        {
            error = new CostSettingError(CostSettingProblem.UnknownName, $"{key}: unknown name '{name}' (known: {string.Join(", ", known)})");
            return null;
        }

        SortedDictionary<string, long> Set(IReadOnlyDictionary<string, long> map) =>
            new(map.ToDictionary(kv => kv.Key, kv => kv.Value), StringComparer.Ordinal) { [name!] = ns };
        return key switch
        {
            "leaf_ns" => this with { LeafNs = Set(LeafNs) },
            "subfn_ns" => this with { SubfnNs = Set(SubfnNs) },
            "device_ns" => this with { DeviceNs = Set(DeviceNs) },
            _ => this with { MessageNs = Set(MessageNs) },
        };
    }

    /// <summary>The largest cost one setting may have: an hour.</summary>
    public const long MaxCostNs = 3_600_000_000_000;

    /// <summary>Settings are equal when every cost is, the maps compared by content.</summary>
    public bool Equals(CostModelSettings? other) =>
        other is not null
        && InstructionNs.Equals(other.InstructionNs) && PauseNs == other.PauseNs && PauseExitNs == other.PauseExitNs && TransitNs == other.TransitNs && TdcallNs == other.TdcallNs
        && TdExitNs == other.TdExitNs && TdEntryNs == other.TdEntryNs && VmmNs == other.VmmNs && OtherNs == other.OtherNs
        && SameMap(LeafNs, other.LeafNs) && SameMap(SubfnNs, other.SubfnNs)
        && SameMap(DeviceNs, other.DeviceNs) && SameMap(MessageNs, other.MessageNs);

    /// <inheritdoc/>
    public override int GetHashCode() =>
        HashCode.Combine(InstructionNs, PauseNs + PauseExitNs, TransitNs, TdcallNs, TdExitNs, TdEntryNs, VmmNs + OtherNs,
            LeafNs.Count + SubfnNs.Count + DeviceNs.Count + MessageNs.Count);

    private static bool SameMap(IReadOnlyDictionary<string, long> a, IReadOnlyDictionary<string, long> b) =>
        a.Count == b.Count && a.All(kv => b.TryGetValue(kv.Key, out long v) && v == kv.Value);

    /// <summary>Every cost, by key, as <c>stress --json</c> prints it (maps as nested objects).</summary>
    public IEnumerable<(string Key, object Value)> Describe()
    {
        yield return ("instruction_ns", InstructionNs);
        yield return ("pause_ns", PauseNs);
        yield return ("pause_exit_ns", PauseExitNs);
        yield return ("transit_ns", TransitNs);
        yield return ("tdcall_ns", TdcallNs);
        yield return ("td_exit_ns", TdExitNs);
        yield return ("td_entry_ns", TdEntryNs);
        yield return ("vmm_ns", VmmNs);
        yield return ("other_ns", OtherNs);
        yield return ("leaf_ns", LeafNs);
        yield return ("subfn_ns", SubfnNs);
        yield return ("device_ns", DeviceNs);
        yield return ("message_ns", MessageNs);
    }
}

/// <summary>A shared resource that is not an actor (a device and its lock): what waiting for it cost.</summary>
/// <param name="Name">Its name in the report, e.g. <c>device/com1</c>.</param>
/// <param name="Accesses">Accesses made.</param>
/// <param name="Contended">Accesses that found it held.</param>
/// <param name="BusyNs">Time it was held.</param>
/// <param name="WaitP50">Median wait, ns.</param>
/// <param name="WaitP99">99th percentile wait, ns.</param>
/// <param name="WaitMax">Longest wait, ns.</param>
public sealed record ResourceContention(string Name, long Accesses, long Contended, long BusyNs, long WaitP50, long WaitP99, long WaitMax)
{
    /// <summary>A device's lock times measured in real time.</summary>
    public static ResourceContention From(TdxSim.Devices.Bus.DeviceLockTimes times)
    {
        ArgumentNullException.ThrowIfNull(times);
        return new("device/" + times.Name, times.Accesses, times.Contended, times.HeldNs,
            times.WaitPercentile(50), times.WaitPercentile(99), times.WaitMaxNs);
    }
}

/// <summary>
/// The <see cref="IMessageCostModel"/> of a TD: vCPUs pay for the instructions they retired while handling a
/// message (plus a TD entry when the message resumes the guest), the TDX module and the VMM pay per request, per leaf
/// or sub-function if the settings say so, and a VMM pays for the device it reaches, after waiting for it if another
/// VMM holds it. Used only on the deterministic dispatcher's thread.
/// </summary>
internal sealed class TdCostModel : IMessageCostModel
{
    private const int ModuleRole = -1;
    private const int VmmRole = -2;
    private const int OtherRole = -3;

    private readonly CostModelSettings _settings;
    private readonly Cpu.Cpu[] _cpus;
    private readonly ulong[] _baseline;
    private readonly ulong[] _pauseExitBaseline;
    private readonly ulong[] _pausesRetiredBaseline;
    private readonly Func<long> _now;
    private readonly Func<TdVmcallRequested, string?> _deviceOf;
    private readonly Dictionary<IActorRef, int> _roles = new(ReferenceEqualityComparer.Instance);
    private readonly Dictionary<ushort, long> _leaf = [];
    private readonly Dictionary<ulong, long> _subfn = [];
    private readonly Dictionary<Type, long> _message = [];
    private readonly Dictionary<string, Device> _devices = new(StringComparer.Ordinal);

    // What Begin worked out for the handling in progress (one at a time on the dispatcher's thread).
    private long _fixedCost;

    public TdCostModel(CostModelSettings settings, Cpu.Cpu[] cpus, Func<long> now, Func<TdVmcallRequested, string?> deviceOf)
    {
        _settings = settings;
        _cpus = cpus;
        _baseline = new ulong[cpus.Length];
        _pauseExitBaseline = new ulong[cpus.Length];
        _pausesRetiredBaseline = new ulong[cpus.Length];
        _now = now;
        _deviceOf = deviceOf;
        foreach ((string name, ushort leaf) in CostModelSettings.Leaves())
        {
            if (settings.LeafNs.TryGetValue(name, out long ns))
            {
                _leaf[leaf] = ns;
            }
        }

        foreach ((string name, ulong subfn) in CostModelSettings.Subfunctions())
        {
            if (settings.SubfnNs.TryGetValue(name, out long ns))
            {
                _subfn[subfn] = ns;
            }
        }

        foreach (Type type in typeof(ITdxMessage).Assembly.GetTypes())
        {
            if (settings.MessageNs.TryGetValue(type.Name, out long ns) && typeof(ITdxMessage).IsAssignableFrom(type))
            {
                _message[type] = ns;
            }
        }
    }

    public long TransitNanoseconds => _settings.TransitNs;

    /// <summary>The devices VMMs reached, with their waits.</summary>
    public IReadOnlyList<ResourceContention> Devices() =>
        [.. _devices.OrderBy(d => d.Key, StringComparer.Ordinal)
            .Select(d => new ResourceContention("device/" + d.Key, d.Value.Accesses, d.Value.Contended, d.Value.BusyNs,
                d.Value.Wait.Percentile(50), d.Value.Wait.Percentile(99), d.Value.Wait.Max))];

    public void Begin(object message, IActorRef recipient)
    {
        int role = RoleOf(recipient);
        if (role >= 0)
        {
            // Turns of a spin loop the vCPU counted without running them (Cpu.CreditSpin) took their time while it was
            // parked, before this handling: they are not its cost.
            Cpu.Cpu cpu = _cpus[role];
            _baseline[role] = cpu.State.InstructionsRetired - cpu.CreditedInstructions;
            _pauseExitBaseline[role] = cpu.PauseExits - cpu.CreditedPauseExits;
            _pausesRetiredBaseline[role] = cpu.PausesRetired - cpu.CreditedPauses;
            _fixedCost = message is TdcallCompleted or TdEntered ? _settings.TdEntryNs : 0;
            return;
        }

        _fixedCost = FixedCost(message, role);
        if (role == VmmRole && message is TdVmcallRequested request && _deviceOf(request) is { } name)
        {
            // The VMM takes the device's lock after its own part: it waits while another VMM holds it.
            if (!_devices.TryGetValue(name, out Device? device))
            {
                _devices[name] = device = new Device(_settings.DeviceNs.TryGetValue(name, out long hold) ? hold : 0);
            }

            long at = _now() + _fixedCost;
            long wait = Math.Max(0, device.FreeAt - at);
            device.Accesses++;
            device.BusyNs += device.HoldNs;
            if (wait > 0)
            {
                device.Contended++;
            }

            device.Wait.Record(wait);
            device.FreeAt = at + wait + device.HoldNs;
            _fixedCost += wait + device.HoldNs;
        }
    }

    public long Elapsed(object message, IActorRef recipient)
    {
        int role = RoleOf(recipient);
        if (role >= 0)
        {
            Cpu.Cpu cpu = _cpus[role];
            ulong delta = cpu.State.InstructionsRetired - cpu.CreditedInstructions - _baseline[role];
            ulong exits = cpu.PauseExits - cpu.CreditedPauseExits - _pauseExitBaseline[role];
            ulong pauses = cpu.PausesRetired - cpu.CreditedPauses - _pausesRetiredBaseline[role];
            return (long)(delta * _settings.InstructionNs) + ((long)pauses * _settings.PauseNs) + ((long)exits * _settings.PauseExitNs) + _fixedCost;
        }

        return _fixedCost;
    }

    private long FixedCost(object message, int role)
    {
        if (_message.Count > 0 && _message.TryGetValue(message.GetType(), out long byType))
        {
            return byType;
        }

        switch (role)
        {
            case ModuleRole:
                if (message is TdExited)
                {
                    return _settings.TdExitNs;
                }

                return message is TdcallRequested request && _leaf.Count > 0
                    && _leaf.TryGetValue(TdcallLeafInfo.LeafOf(request.Regs[Gpr.Rax]), out long leafNs)
                    ? leafNs
                    : _settings.TdcallNs;
            case VmmRole:
                return message is TdVmcallRequested call && _subfn.Count > 0
                    && _subfn.TryGetValue(call.Regs[Gpr.R11], out long subfnNs)
                    ? subfnNs
                    : message is TdVmcallRequested ? _settings.VmmNs : _settings.OtherNs;
            default:
                return _settings.OtherNs;
        }
    }

    private int RoleOf(IActorRef recipient)
    {
        if (_roles.TryGetValue(recipient, out int role))
        {
            return role;
        }

        // Paths: /user/machine/vcpu/N, /user/machine/tdx-module(/N), /user/machine/vmm(/N).
        string path = recipient.Path.ToStringWithoutAddress();
        string[] parts = path.Split('/', StringSplitOptions.RemoveEmptyEntries);
        role = OtherRole;
        if (parts.Length >= 2 && parts[^2] == "vcpu" && int.TryParse(parts[^1], NumberStyles.None, CultureInfo.InvariantCulture, out int index)
            && index < _cpus.Length)
        {
            role = index;
        }
        else if (Array.IndexOf(parts, "tdx-module") >= 0)
        {
            role = ModuleRole;
        }
        else if (Array.IndexOf(parts, "vmm") >= 0)
        {
            role = VmmRole;
        }

        _roles[recipient] = role;
        return role;
    }

    private sealed class Device(long holdNs)
    {
        public readonly long HoldNs = holdNs;
        public readonly LatencyHistogram Wait = new();
        public long FreeAt;
        public long Accesses;
        public long Contended;
        public long BusyNs;
    }
}

/// <summary>What is wrong with one cost setting: which part of it a diagnostic should point at.</summary>
public enum CostSettingProblem
{
    /// <summary>The cost key is not one the model has.</summary>
    UnknownKey,

    /// <summary>A map key's name (a device, leaf, sub-function or message type) is not one the model knows.</summary>
    UnknownName,

    /// <summary>A scalar key given a mapping, or a map key given a number.</summary>
    Shape,

    /// <summary>The value is not a cost: negative, not a number, or too large.</summary>
    Value,
}

/// <summary>Why <see cref="CostModelSettings.With"/> refused a setting.</summary>
/// <param name="Problem">Which part of the setting is wrong.</param>
/// <param name="Message">The diagnostic, naming the key, name and value.</param>
public sealed record CostSettingError(CostSettingProblem Problem, string Message);
