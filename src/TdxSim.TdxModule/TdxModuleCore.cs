using System.Security.Cryptography;
using System.Text;
using TdxSim.Abi;
using TdxSim.Abi.Messages;
using TdxSim.TdxModule.Memory;
using TdxSim.TdxModule.Virtualization;

namespace TdxSim.TdxModule;

/// <summary>
/// The TDX module of one TD, as a pure synchronous state machine: TDCALL leaves (reference 1), TDG.VP.VMCALL
/// forwarding (reference 2), and the TD exits it handles before the guest sees them: CPUID, MSRs, #VE injection
/// with the nesting rule, EPT violations (reference 3, 4). Actors wrap it; tests call it directly.
/// <para>
/// Threading: calls for different vCPUs may run concurrently. Per-vCPU state lives in one <see cref="VcpuContext"/>
/// per vCPU; a vCPU has at most one request in flight (it blocks on TDCALL and on TD exits), so its state needs no
/// lock, except the VMCALL-in-flight marker, which a VMM reply claims atomically. TD-wide mutable state (TD_CTLS,
/// NOTIFY_ENABLES, the RTMRs) is guarded by one lock, taken only by TDG.VM.WR, TDG.MR.RTMR.EXTEND and TDG.MR.REPORT.
/// </para>
/// <para>
/// Roadmap hooks: a per-vCPU module with shared metadata needs only a second front end over the same TD-wide state;
/// TDX_OPERAND_BUSY and seeded fault injection belong at the single dispatch point of <see cref="HandleTdcall(TdcallRequested, in Memory.SeptTiming)"/> and
/// around the TD-wide lock.
/// </para>
/// </summary>
public sealed partial class TdxModuleCore
{
    /// <summary>Number of RTMRs.</summary>
    public const int RtmrCount = 4;

    private const ushort ForbiddenAlways = GprMask.Rax | GprMask.Rcx | GprMask.Rsp;

    private readonly ITdMemory _memory;
    private readonly VcpuContext[] _vcpus;
    private readonly CpuidVirtualization _cpuid;
    private readonly Lock _tdLock = new();
    private readonly SeptEntryLocks _septLocks;
    private readonly byte[] _rtmrs = new byte[RtmrCount * TdxModuleOptions.MeasurementLength];
    private readonly byte[] _tdInfoStatic = new byte[Attestation.TdReportLayout.TdInfoSize];
    private readonly byte[] _reportMacKey = new byte[TdxModuleOptions.ReportMacKeyLength];
    private readonly ulong _initialMiscEnable;
    private ulong _tdCtls;
    private ulong _notifyEnables;
    private string? _killReason;

    /// <summary>Creates the module state of a TD that has just been finalized (TDH.MR.FINALIZE).</summary>
    /// <param name="options">The TD configuration; validated here.</param>
    /// <param name="memory">Guest-physical memory as the module sees it.</param>
    /// <exception cref="ArgumentException">An option is inconsistent (the message names it).</exception>
    public TdxModuleCore(TdxModuleOptions options, ITdMemory memory)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(memory);
        options.Validate();
        Options = options;
        _memory = memory;
        _septLocks = new SeptEntryLocks(memory.PrivateSize);
        _cpuid = new CpuidVirtualization(options);
        _vcpus = new VcpuContext[options.NumVcpus];
        Counters = new TdxModuleCounters(options.NumVcpus);

        // IA32_MISC_ENABLE as TDH.VP.INIT leaves it: fast strings, BTS and PEBS unavailable, perfmon with PERFMON.
        _initialMiscEnable = 0x1 | (1UL << 11) | (1UL << 12) | ((options.Attributes & TdAttributes.Perfmon) != 0 ? 1UL << 7 : 0);
        for (int i = 0; i < _vcpus.Length; i++)
        {
            _vcpus[i] = new VcpuContext(i);
            _vcpus[i].Msrs.MiscEnable = _initialMiscEnable;
        }

        // TD_CTLS.PENDING_VE_DISABLE starts as ATTRIBUTES.SEPT_VE_DISABLE (reference 4.4).
        _tdCtls = ((options.Attributes & TdAttributes.SeptVeDisable) != 0 ? TdCtls.PendingVeDisable : 0)
                  | (options.EnumTopologyAtStart ? TdCtls.EnumTopology : 0);
        InitializeAttestation();
    }

    /// <summary>The TD configuration.</summary>
    public TdxModuleOptions Options { get; }

    /// <summary>Event counters for the state dump.</summary>
    public TdxModuleCounters Counters { get; }

    /// <summary>Number of vCPUs.</summary>
    public int VcpuCount => _vcpus.Length;

    /// <summary>The current TD_CTLS.</summary>
    public ulong TdCtlsValue => Volatile.Read(ref _tdCtls);

    /// <summary>True while TD_CTLS.PENDING_VE_DISABLE is set: a guest access to a pending page kills the TD instead of #VE.</summary>
    public bool PendingVeDisabled => (TdCtlsValue & TdCtls.PendingVeDisable) != 0;

    /// <summary>True once an event the host cannot resolve has ended the TD; every later request gets <see cref="TdEntryAction.TdKilled"/>.</summary>
    public bool IsTdKilled => Volatile.Read(ref _killReason) is not null;

    /// <summary>Why the TD was killed, or null.</summary>
    public string? KillReason => Volatile.Read(ref _killReason);

    /// <summary>True while vCPU <paramref name="vcpu"/> has VE info that TDG.VP.VEINFO.GET has not read.</summary>
    public bool IsVeInfoValid(int vcpu) => Context(vcpu).VeValid;

    /// <summary>True while vCPU <paramref name="vcpu"/> waits for the VMM to answer its TDG.VP.VMCALL.</summary>
    public bool HasVmcallInFlight(int vcpu) => Volatile.Read(ref Context(vcpu).PendingSelect) != VcpuContext.NoPendingVmcall;

    /// <summary>Copies RTMR <paramref name="index"/> (48 bytes) into <paramref name="destination"/>.</summary>
    public void ReadRtmr(int index, Span<byte> destination)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(index);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(index, RtmrCount);
        lock (_tdLock)
        {
            _rtmrs.AsSpan(index * TdxModuleOptions.MeasurementLength, TdxModuleOptions.MeasurementLength).CopyTo(destination);
        }
    }

    /// <summary>
    /// Handles one TDCALL. RAX selects the leaf: bits 15:0 leaf, 23:16 version, 63:24 must be 0 (reference 1.1).
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">No such vCPU.</exception>
    /// <exception cref="InvalidOperationException">The vCPU still has a TDG.VP.VMCALL with the VMM (a vCPU bug).</exception>
    public TdcallOutcome HandleTdcall(TdcallRequested request) => HandleTdcall(request, SeptTiming.RealTime);

    /// <summary>
    /// Handles one TDCALL whose handling runs at <paramref name="timing"/>: in deterministic mode the TD-scope locks it
    /// takes (the SEPT entry of TDG.MEM.PAGE.ACCEPT) are held in virtual time over the handling's cost.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">No such vCPU.</exception>
    /// <exception cref="InvalidOperationException">The vCPU still has a TDG.VP.VMCALL with the VMM (a vCPU bug).</exception>
    public TdcallOutcome HandleTdcall(TdcallRequested request, in SeptTiming timing)
    {
        ArgumentNullException.ThrowIfNull(request);
        VcpuContext ctx = Context(request.Vcpu);
        ThrowIfVmcallInFlight(ctx, "TDCALL");
        Gprs regs = request.Regs;
        ulong rax = regs[Gpr.Rax];
        ushort leaf = TdcallLeafInfo.LeafOf(rax);
        byte version = TdcallLeafInfo.VersionOf(rax);
        Counters.CountLeaf(ctx.Index, leaf);
        if (IsTdKilled)
        {
            return TdcallOutcome.Faulting(Killed(ctx, default));
        }

        // [MOD] tdx_td_dispatcher.c td_call: reserved RAX bits, then the version rule, then the leaf.
        if (!TdcallLeafInfo.ReservedBitsClear(rax)
            || (version > 0 && leaf is not ((ushort)TdcallLeaf.VmRd or (ushort)TdcallLeaf.VpVeinfoGet)))
        {
            return Fail(ctx, leaf, TdxStatus.WithOperand(TdxStatus.OperandInvalid, Gpr.Rax));
        }

        return (TdcallLeaf)leaf switch
        {
            TdcallLeaf.VpVmcall => VpVmcall(ctx, in regs),
            TdcallLeaf.VpInfo => VpInfo(ctx),
            TdcallLeaf.MrRtmrExtend => MrRtmrExtend(ctx, in regs),
            TdcallLeaf.VpVeinfoGet => VpVeinfoGet(ctx, version),
            TdcallLeaf.MrReport => MrReport(ctx, in regs),
            TdcallLeaf.MemPageAccept => MemPageAccept(ctx, in regs, in timing),
            TdcallLeaf.VmRd => VmRd(ctx, in regs, version),
            TdcallLeaf.VmWr => VmWr(ctx, in regs),

            // Unknown leaves, and leaves of the spec this module does not model (TDG.VP.CPUIDVE.SET, TDG.VP.RD/WR,
            // TDG.SYS.RD/RDALL, TDG.SERVTD.*, TDG.MR.VERIFYREPORT, TDG.MEM.PAGE.ATTR.*, L2 and TDX-IO leaves),
            // get what the module answers for a leaf it does not implement: OPERAND_INVALID(RAX).
            _ => Fail(ctx, leaf, TdxStatus.WithOperand(TdxStatus.OperandInvalid, Gpr.Rax)),
        };
    }

    private VcpuContext Context(int vcpu)
    {
        if ((uint)vcpu >= (uint)_vcpus.Length)
        {
            throw new ArgumentOutOfRangeException(nameof(vcpu), vcpu, $"no vCPU {vcpu}: the TD has {_vcpus.Length}");
        }

        return _vcpus[vcpu];
    }

    private static void ThrowIfVmcallInFlight(VcpuContext ctx, string what)
    {
        if (Volatile.Read(ref ctx.PendingSelect) != VcpuContext.NoPendingVmcall)
        {
            throw new InvalidOperationException(
                $"vCPU {ctx.Index} sent a {what} while its TDG.VP.VMCALL is still with the VMM; a vCPU must wait for the completion");
        }
    }

    /// <summary>A completed leaf: counts the status and builds the reply.</summary>
    private TdcallOutcome Done(VcpuContext ctx, ushort leaf, ushort written, in Gprs regs)
    {
        Counters.CountStatus(ctx.Index, regs[Gpr.Rax]);
        return TdcallOutcome.Complete(new TdcallCompleted(ctx.Index, leaf, (ushort)(written | GprMask.Rax), regs));
    }

    /// <summary>A leaf that only writes its status.</summary>
    private TdcallOutcome Fail(VcpuContext ctx, ushort leaf, ulong status)
    {
        Gprs regs = default;
        regs[Gpr.Rax] = status;
        return Done(ctx, leaf, GprMask.Rax, regs);
    }

    private TdEntered Entry(VcpuContext ctx, TdEntryAction action, in VeInfo exit, ushort written, in Gprs regs)
    {
        Counters.CountEntry(ctx.Index, action);
        return new TdEntered(ctx.Index, action, exit, written, regs);
    }

    /// <summary>
    /// #VE injection with the nesting rule (reference 3.2, [MOD] tdx_inject_ve): VE info still valid → #DF instead;
    /// else store the VE info, mark it valid, inject #VE.
    /// </summary>
    private TdEntered InjectVe(VcpuContext ctx, in VeInfo info)
    {
        if (ctx.VeValid)
        {
            return Entry(ctx, TdEntryAction.DoubleFaultInjected, info, 0, default);
        }

        ctx.VeInfo = info;
        ctx.VeValid = true;
        return Entry(ctx, TdEntryAction.VeInjected, info, 0, default);
    }

    /// <summary>Marks the TD dead (the first reason wins) and builds the entry that tells the vCPU.</summary>
    private TdEntered Kill(VcpuContext ctx, in VeInfo info, string reason)
    {
        Interlocked.CompareExchange(ref _killReason, reason, null);
        return Killed(ctx, info);
    }

    private TdEntered Killed(VcpuContext ctx, in VeInfo info) => Entry(ctx, TdEntryAction.TdKilled, info, 0, default);

    private void InitializeAttestation()
    {
        Options.Mrtd.Span.CopyTo(_tdInfoStatic.AsSpan(Attestation.TdReportLayout.Mrtd - Attestation.TdReportLayout.TdInfo));
        Options.MrConfigId.Span.CopyTo(_tdInfoStatic.AsSpan(Attestation.TdReportLayout.MrConfigId - Attestation.TdReportLayout.TdInfo));
        Options.MrOwner.Span.CopyTo(_tdInfoStatic.AsSpan(Attestation.TdReportLayout.MrOwner - Attestation.TdReportLayout.TdInfo));
        Options.MrOwnerConfig.Span.CopyTo(_tdInfoStatic.AsSpan(Attestation.TdReportLayout.MrOwnerConfig - Attestation.TdReportLayout.TdInfo));
        if (!Options.ReportMacKey.IsEmpty)
        {
            Options.ReportMacKey.Span.CopyTo(_reportMacKey);
            return;
        }

        // A per-TD key that is reproducible from the seed: HMAC-SHA256(seed, label || MRTD).
        Span<byte> seed = stackalloc byte[sizeof(ulong)];
        BitConverter.TryWriteBytes(seed, Options.Seed);
        byte[] label = Encoding.ASCII.GetBytes("TdxSim TDREPORT MAC key");
        byte[] input = new byte[label.Length + TdxModuleOptions.MeasurementLength];
        label.CopyTo(input, 0);
        Options.Mrtd.Span.CopyTo(input.AsSpan(label.Length));
        HMACSHA256.HashData(seed, input, _reportMacKey);
    }
}
