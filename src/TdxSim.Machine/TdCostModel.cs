using System.Globalization;
using TdxSim.Abi.Messages;
using Akka.Actor;
using TdxSim.Runtime.Tracing;

namespace TdxSim.Machine;

/// <summary>
/// Virtual-time costs under the deterministic dispatcher: what a message costs its recipient. Defaults are
/// round figures for a ~3 GHz host (a TDX module transition of a few hundred cycles; a VMM round trip of a
/// userspace exit); change them to ask contention questions whose answers do not depend on the host.
/// </summary>
public sealed record CostModelSettings
{
    /// <summary>Virtual nanoseconds per guest instruction retired.</summary>
    public double InstructionNs { get; init; } = 0.5;

    /// <summary>The TDX module handling one TDCALL (SEAM transition included).</summary>
    public long TdcallNs { get; init; } = 150;

    /// <summary>A TD exit reaching the TDX module (and the decision to emulate or inject #VE).</summary>
    public long TdExitNs { get; init; } = 300;

    /// <summary>Re-entering the guest after a TDCALL or TD exit (TD entry).</summary>
    public long TdEntryNs { get; init; } = 100;

    /// <summary>The VMM handling one TDVMCALL (a KVM exit to userspace and back).</summary>
    public long VmmNs { get; init; } = 1_500;

    /// <summary>Any other message (machine bookkeeping).</summary>
    public long OtherNs { get; init; } = 10;
}

/// <summary>
/// The <see cref="IMessageCostModel"/> of a TD: vCPUs pay for the instructions they retired while handling a
/// message (plus a TD entry when the message resumes the guest), the TDX module and the VMM pay per request.
/// Used only on the deterministic dispatcher's single thread.
/// </summary>
internal sealed class TdCostModel : IMessageCostModel
{
    private readonly CostModelSettings _settings;
    private readonly Cpu.Cpu[] _cpus;
    private readonly ulong[] _charged;
    private readonly Dictionary<IActorRef, int> _roles = new(ReferenceEqualityComparer.Instance);

    public TdCostModel(CostModelSettings settings, Cpu.Cpu[] cpus)
    {
        _settings = settings;
        _cpus = cpus;
        _charged = new ulong[cpus.Length];
    }

    private const int ModuleRole = -1;
    private const int VmmRole = -2;
    private const int OtherRole = -3;

    public long CostNanoseconds(object message, IActorRef recipient)
    {
        int role = RoleOf(recipient);
        switch (role)
        {
            case ModuleRole:
                return message is TdExited ? _settings.TdExitNs : _settings.TdcallNs;
            case VmmRole:
                return _settings.VmmNs;
            case OtherRole:
                return _settings.OtherNs;
            default:
                ulong retired = _cpus[role].State.InstructionsRetired;
                ulong delta = retired - _charged[role];
                _charged[role] = retired;
                long entry = message is TdcallCompleted or TdEntered ? _settings.TdEntryNs : 0;
                return (long)(delta * _settings.InstructionNs) + entry;
        }
    }

    private int RoleOf(IActorRef recipient)
    {
        if (_roles.TryGetValue(recipient, out int role))
        {
            return role;
        }

        // Paths: /user/machine/vcpu/N, /user/machine/tdx-module, /user/machine/vmm or /user/machine/vmm/N.
        string path = recipient.Path.ToString();
        string[] parts = path.Split('/', StringSplitOptions.RemoveEmptyEntries);
        role = OtherRole;
        if (parts.Length >= 2 && parts[^2] == "vcpu" && int.TryParse(parts[^1], NumberStyles.None, CultureInfo.InvariantCulture, out int index)
            && index < _cpus.Length)
        {
            role = index;
        }
        else if (parts.Length >= 1 && parts[^1] == "tdx-module")
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
}
