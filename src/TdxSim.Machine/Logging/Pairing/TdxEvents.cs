using TdxSim.Abi;

namespace TdxSim.Machine.Logging.Pairing;

/// <summary>Derives the timed events (<see cref="TdxEvent"/>) of a request.</summary>
public static class TdxEvents
{
    private static readonly string IoName = TdVmcall.SubfunctionName((ulong)TdVmcallSubfunction.InstructionIo);
    private static readonly string MmioName = TdVmcall.SubfunctionName((ulong)TdVmcallSubfunction.VeRequestMmio);
    private static readonly string VeinfoGetName = TdcallLeafInfo.SpecName((ushort)TdcallLeaf.VpVeinfoGet);
    private static readonly string EptViolationName = VeExitReasonInfo.Name((uint)VeExitReason.EptViolation);

    /// <summary>True for the GHCI sub-function name of port I/O.</summary>
    public static bool IsPortIo(string? subfn) => string.Equals(subfn, IoName, StringComparison.Ordinal);

    /// <summary>True for the GHCI sub-function name of MMIO.</summary>
    public static bool IsMmio(string? subfn) => string.Equals(subfn, MmioName, StringComparison.Ordinal);

    /// <summary>
    /// Appends to <paramref name="events"/> the exit of an exit request (first), then every TDCALL and TDVMCALL
    /// in it, in the order they started. <paramref name="endOfRunNs"/> ends events that never got a reply.
    /// </summary>
    public static void Extract(TdxRequest request, List<TdxEvent> events, long endOfRunNs)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(events);
        ReadOnlySpan<Hop> hops = request.Hops;
        ulong? veGpa = null;
        for (int i = 0; i < hops.Length; i++)
        {
            // The VE info's GPA (R9 of TDG.VP.VEINFO.GET's output) names the page behind an EPT-violation #VE.
            if (hops[i].Kind == HopKind.TdcallCompleted && string.Equals(hops[i].Leaf, VeinfoGetName, StringComparison.Ordinal))
            {
                veGpa ??= hops[i].Register(Gpr.R9);
            }
        }

        if (request.Kind == TdxRequestKind.Exit)
        {
            int last = request.LastVcpuHopIndex;
            bool complete = request.IsComplete && last >= 0;
            events.Add(new TdxEvent
            {
                Kind = TdxEventKind.Exit,
                Vcpu = request.Vcpu,
                Corr = request.Corr,
                StartNs = hops[0].DeliveredNs,
                EndNs = complete ? hops[last].DeliveredNs : Math.Max(endOfRunNs, hops[^1].DeliveredNs),
                IsComplete = complete,
                Reason = hops[0].Reason,
                Gpa = string.Equals(hops[0].Reason, EptViolationName, StringComparison.Ordinal) ? veGpa : null,
                FirstSeq = hops[0].Seq,
                FirstHop = 0,
                LastHop = complete ? last : -1,
            });
        }

        for (int i = 0; i < hops.Length; i++)
        {
            ref readonly Hop hop = ref hops[i];
            if (hop.Kind == HopKind.TdcallRequested)
            {
                int reply = FindReply(hops, i, HopKind.TdcallCompleted);
                events.Add(new TdxEvent
                {
                    Kind = TdxEventKind.Tdcall,
                    Vcpu = request.Vcpu,
                    Corr = request.Corr,
                    StartNs = hop.DeliveredNs,
                    EndNs = reply >= 0 ? hops[reply].DeliveredNs : Math.Max(endOfRunNs, hops[^1].DeliveredNs),
                    IsComplete = reply >= 0,
                    IsNested = request.Kind == TdxRequestKind.Exit,
                    Leaf = hop.Leaf,
                    Subfn = hop.Subfn,
                    Status = reply >= 0 ? hops[reply].Status : null,
                    FirstSeq = hop.Seq,
                    FirstHop = i,
                    LastHop = reply,
                });
            }
            else if (hop.Kind == HopKind.TdVmcallRequested)
            {
                int reply = FindReply(hops, i, HopKind.TdVmcallCompleted);
                events.Add(Tdvmcall(request, hops, i, reply, veGpa, endOfRunNs));
            }
        }
    }

    private static TdxEvent Tdvmcall(TdxRequest request, ReadOnlySpan<Hop> hops, int index, int reply, ulong? veGpa, long endOfRunNs)
    {
        ref readonly Hop hop = ref hops[index];

        // GHCI TDG.VP.VMCALL<Instruction.IO>: R12 size, R13 direction (0 in, 1 out), R14 port, R15 value;
        // <#VE.RequestMMIO>: R12 size, R13 direction (0 read, 1 write), R14 GPA, R15 value.
        bool io = IsPortIo(hop.Subfn);
        bool mmio = IsMmio(hop.Subfn);
        ulong? direction = hop.Register(Gpr.R13);
        DeviceAccess access = DeviceAccess.Unknown;
        if (direction is ulong d && (io || mmio))
        {
            access = io ? (d == TdVmcall.IoDirectionOut ? DeviceAccess.Out : DeviceAccess.In) : (d == TdVmcall.MmioWrite ? DeviceAccess.Write : DeviceAccess.Read);
        }

        bool writes = access is DeviceAccess.Out or DeviceAccess.Write;
        return new TdxEvent
        {
            Kind = TdxEventKind.Tdvmcall,
            Vcpu = request.Vcpu,
            Corr = request.Corr,
            StartNs = hop.DeliveredNs,
            EndNs = reply >= 0 ? hops[reply].DeliveredNs : Math.Max(endOfRunNs, hops[^1].DeliveredNs),
            IsComplete = reply >= 0,
            IsNested = request.Kind == TdxRequestKind.Exit,
            Leaf = hop.Leaf,
            Subfn = hop.Subfn,
            Reason = request.Kind == TdxRequestKind.Exit ? hops[0].Reason : null,
            Status = reply >= 0 ? hops[reply].Status : null,
            Port = io && hop.Register(Gpr.R14) is ulong port ? (ushort)port : null,
            Gpa = mmio ? hop.Register(Gpr.R14) ?? veGpa : null,
            Access = access,
            Size = (io || mmio) && hop.Register(Gpr.R12) is ulong size ? (int)Math.Min(size, int.MaxValue) : null,
            Value = (io || mmio) && writes ? hop.Register(Gpr.R15) : null,
            FirstSeq = hop.Seq,
            FirstHop = index,
            LastHop = reply,
        };
    }

    private static int FindReply(ReadOnlySpan<Hop> hops, int request, HopKind replyKind)
    {
        for (int j = request + 1; j < hops.Length; j++)
        {
            if (hops[j].Kind == replyKind)
            {
                return j;
            }
        }

        return -1;
    }
}
