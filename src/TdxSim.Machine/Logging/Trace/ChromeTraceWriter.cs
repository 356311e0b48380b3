using System.Buffers;
using System.Globalization;
using System.Text.Json;
using TdxSim.Abi;
using TdxSim.Abi.Messages;
using TdxSim.Machine.Logging.Pairing;

namespace TdxSim.Machine.Logging.Trace;

/// <summary>
/// Writes Chrome Trace Event JSON (contract section 7) that Perfetto UI and chrome://tracing load, one request
/// at a time as <see cref="RequestPairer"/> completes them, so a long run is never held in memory.
/// </summary>
/// <remarks>
/// <para>Layout: pid 1 "TD guest", pid 2 "TDX module", pid 3 "VMM", pid 4 "devices"; in each, thread id n is
/// "vCPU n". Times are microseconds with three decimals (nanosecond precision) on the actor system's clock;
/// <c>displayTimeUnit</c> is <c>ns</c>.</para>
/// <para>Slices (<c>X</c>): on the guest track, one slice per request (the #VE or paravirt TDCALL, from the moment
/// the vCPU sent its exit or TDCALL until the reply that resumes it was delivered), with the TDCALLs of the #VE
/// handler nested inside, and a zero-length "resume" slice where the vCPU resumes; on the module track, one slice
/// per message the module handled (from its delivery to the send of the module's next message for that request);
/// on the VMM track, one slice per TDVMCALL (delivery of the request to the send of the reply). Gaps between slices
/// are queueing, drawn as "wait" slices (category <c>wait</c>) from a message's send to its handling's start. Port and MMIO accesses appear as instants on the devices track. Messages outside any request
/// (start, halt, stop requests) appear as instants on the guest track.</para>
/// <para>Flow arrows use the v2 form (Chromium's JSON exporter and Perfetto: <c>bind_id</c> with
/// <c>flow_out</c>/<c>flow_in</c> on the slices themselves, never mixed with v1 <c>s</c>/<c>t</c>/<c>f</c>
/// events): the request's guest slice is the source, every module, VMM and nested TDCALL slice is a step in
/// delivery order, and the resume slice is the sink. <c>bind_id</c> is the correlation id, so every request must
/// have its own. Perfetto orders a flow by slice start time, which is why the arrow back to the vCPU lands on the
/// resume slice rather than on the request slice that began earlier.</para>
/// <para>When the run ends mid-request, <see cref="OnRequest"/> still gets the request (from
/// <see cref="RequestPairer.Finish"/>): its open slices end at the last time seen and carry
/// <c>"incomplete":true</c>, and <see cref="Finish"/> closes the JSON, so the file is always valid.</para>
/// </remarks>
public sealed class ChromeTraceWriter : IRequestObserver, IDisposable
{
    /// <summary>Process ids of the four components.</summary>
    public const int GuestPid = 1;

    /// <inheritdoc cref="GuestPid"/>
    public const int ModulePid = 2;

    /// <inheritdoc cref="GuestPid"/>
    public const int VmmPid = 3;

    /// <inheritdoc cref="GuestPid"/>
    public const int DevicesPid = 4;

    private static readonly JsonEncodedText Ph = JsonEncodedText.Encode("ph");
    private static readonly JsonEncodedText Pid = JsonEncodedText.Encode("pid");
    private static readonly JsonEncodedText Tid = JsonEncodedText.Encode("tid");
    private static readonly JsonEncodedText Ts = JsonEncodedText.Encode("ts");
    private static readonly JsonEncodedText Dur = JsonEncodedText.Encode("dur");
    private static readonly JsonEncodedText Name = JsonEncodedText.Encode("name");
    private static readonly JsonEncodedText Cat = JsonEncodedText.Encode("cat");
    private static readonly JsonEncodedText Args = JsonEncodedText.Encode("args");
    private static readonly JsonEncodedText Scope = JsonEncodedText.Encode("s");
    private static readonly JsonEncodedText BindId = JsonEncodedText.Encode("bind_id");
    private static readonly JsonEncodedText FlowIn = JsonEncodedText.Encode("flow_in");
    private static readonly JsonEncodedText FlowOut = JsonEncodedText.Encode("flow_out");
    private static readonly JsonEncodedText Seq = JsonEncodedText.Encode("seq");
    private static readonly JsonEncodedText Message = JsonEncodedText.Encode("message");
    private static readonly JsonEncodedText Incomplete = JsonEncodedText.Encode("incomplete");
    private static readonly JsonEncodedText Action = JsonEncodedText.Encode("action");
    private static readonly JsonEncodedText Port = JsonEncodedText.Encode("port");
    private static readonly JsonEncodedText Gpa = JsonEncodedText.Encode("gpa");
    private static readonly JsonEncodedText Access = JsonEncodedText.Encode("access");
    private static readonly JsonEncodedText Size = JsonEncodedText.Encode("size");
    private static readonly JsonEncodedText Value = JsonEncodedText.Encode("value");
    private static readonly JsonEncodedText Complete = JsonEncodedText.Encode("X");
    private static readonly JsonEncodedText Instant = JsonEncodedText.Encode("i");
    private static readonly JsonEncodedText Metadata = JsonEncodedText.Encode("M");
    private static readonly JsonEncodedText ThreadScope = JsonEncodedText.Encode("t");

    private readonly IBufferWriter<byte> _output;
    private readonly Utf8JsonWriter _json;
    private readonly HashSet<long> _namedThreads = [];
    private readonly List<Slice> _chain = [];
    private readonly List<TdxEvent> _events = [];
    private readonly Dictionary<(string, string?, string?, string?), string> _names = [];
    private readonly EncodedTextCache _texts = new();
    private readonly Dictionary<int, long> _guestFree = [];
    private readonly Dictionary<long, long> _trackFree = [];
    private bool _firstEvent = true;
    private bool _finished;

    /// <summary>Starts a trace in <paramref name="output"/>: the header and the process names.</summary>
    public ChromeTraceWriter(IBufferWriter<byte> output)
    {
        ArgumentNullException.ThrowIfNull(output);
        _output = output;
        _json = new Utf8JsonWriter(output, new JsonWriterOptions { SkipValidation = true });
        _output.Write("{\"displayTimeUnit\":\"ns\",\"traceEvents\":[\n"u8);
        WriteProcess(GuestPid, "TD guest");
        WriteProcess(ModulePid, "TDX module");
        WriteProcess(VmmPid, "VMM");
        WriteProcess(DevicesPid, "devices");
    }

    /// <summary>The latest time observed; requests that never completed end here.</summary>
    public long NowNs { get; set; }

    /// <summary>Events written so far (including metadata).</summary>
    public long EventsWritten { get; private set; }

    /// <summary>Closes the JSON. Idempotent; nothing may be written afterwards.</summary>
    public void Finish()
    {
        if (_finished)
        {
            return;
        }

        _finished = true;
        _output.Write("\n]}\n"u8);
    }

    /// <inheritdoc/>
    public void Dispose() => _json.Dispose();

    /// <inheritdoc/>
    public void OnRequest(TdxRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        ReadOnlySpan<Hop> hops = request.Hops;
        int lastVcpuHop = request.LastVcpuHopIndex;
        long end = request.IsComplete && lastVcpuHop >= 0 ? hops[lastVcpuHop].DeliveredNs : Math.Max(NowNs, hops[^1].DeliveredNs);
        NowNs = Math.Max(NowNs, end);
        _events.Clear();
        TdxEvents.Extract(request, _events, end);

        // A vCPU runs one request at a time: its slice never starts before the previous one ended, even if send
        // times come from a clock that disagrees with the delivery times.
        long earliest = _guestFree.TryGetValue(request.Vcpu, out long free) ? free : long.MinValue;
        BuildChain(hops, end, request.IsComplete, earliest);
        _guestFree[request.Vcpu] = end;
        for (int i = 0; i < _chain.Count; i++)
        {
            Slice slice = _chain[i];
            if (slice.Role is SliceRole.Module or SliceRole.Vmm)
            {
                WriteWait(request, hops, slice);
            }

            WriteSlice(request, hops, slice, i == 0, i == _chain.Count - 1);
            if (slice.Pid != GuestPid)
            {
                long key = ((long)slice.Pid << 32) | (uint)request.Vcpu;
                _trackFree[key] = Math.Max(_trackFree.GetValueOrDefault(key, long.MinValue), Math.Max(slice.Start, slice.End));
            }
        }

        foreach (TdxEvent e in _events)
        {
            if (e.Kind == TdxEventKind.Tdvmcall && (e.Port is not null || e.Gpa is not null))
            {
                WriteDeviceAccess(request, e);
            }
        }
    }

    /// <inheritdoc/>
    public void OnOther(in Hop hop, bool unmatched)
    {
        NowNs = Math.Max(NowNs, hop.DeliveredNs);
        if (hop.Vcpu < 0)
        {
            // A message that concerns no vCPU has no track; the message log still has it.
            return;
        }

        NameThread(GuestPid, hop.Vcpu);
        BeginEvent();
        Utf8JsonWriter w = _json;
        w.WriteStartObject();
        w.WriteString(Ph, Instant);
        w.WriteString(Scope, ThreadScope);
        w.WriteNumber(Pid, GuestPid);
        w.WriteNumber(Tid, hop.Vcpu);
        LogFormat.WriteMicroseconds(w, Ts, hop.DeliveredNs);
        w.WriteString(Cat, _texts.Get("message"));
        w.WriteString(Name, _texts.Get(unmatched ? NameOf(hop.Type, " (unmatched)") : hop.Type));
        w.WriteStartObject(Args);
        w.WriteNumber(LogFormat.Corr, hop.Corr);
        w.WriteNumber(Seq, hop.Seq);
        WriteOptional(w, LogFormat.From, hop.From);
        WriteOptional(w, LogFormat.To, hop.To);
        WriteOptional(w, LogFormat.Leaf, hop.Leaf);
        WriteOptional(w, LogFormat.Subfn, hop.Subfn);
        WriteOptional(w, LogFormat.Reason, hop.Reason);
        if (hop.Status is ulong status)
        {
            LogFormat.WriteHex(w, LogFormat.Status, status);
        }

        w.WriteEndObject();
        w.WriteEndObject();
        EndEvent();
    }

    private void BuildChain(ReadOnlySpan<Hop> hops, long end, bool complete, long earliest)
    {
        _chain.Clear();
        _chain.Add(new Slice(SliceRole.Request, GuestPid, Math.Max(SendTime(hops, 0), Math.Min(earliest, hops[0].DeliveredNs)), end, 0, !complete));
        for (int i = 0; i < hops.Length; i++)
        {
            bool lastHop = i + 1 == hops.Length;
            long next = lastHop ? end : SendTime(hops, i + 1);
            switch (hops[i].Target)
            {
                case HopTarget.TdxModule:
                    _chain.Add(new Slice(SliceRole.Module, ModulePid, hops[i].DeliveredNs, next, i, lastHop));
                    break;
                case HopTarget.Vmm:
                    _chain.Add(new Slice(SliceRole.Vmm, VmmPid, hops[i].DeliveredNs, next, i, lastHop));
                    break;
                case HopTarget.Vcpu:
                    if (!lastHop && hops[i + 1].Kind == HopKind.TdcallRequested)
                    {
                        // The #VE handler's next TDCALL: the arrow from the module lands on it.
                        int reply = ReplyOf(hops, i + 1);
                        _chain.Add(new Slice(SliceRole.NestedTdcall, GuestPid, SendTime(hops, i + 1), reply >= 0 ? hops[reply].DeliveredNs : end, i + 1, reply < 0));
                    }
                    else
                    {
                        _chain.Add(new Slice(SliceRole.Resume, GuestPid, hops[i].DeliveredNs, hops[i].DeliveredNs, i, false));
                    }

                    break;
                default:
                    break;
            }
        }
    }

    /// <summary>
    /// When the sender sent hop <paramref name="index"/>: the envelope's send time when recorded live, clamped
    /// between the previous hop's delivery (the sender was handling it) and this hop's delivery; from a log file,
    /// the delivery time.
    /// </summary>
    private static long SendTime(ReadOnlySpan<Hop> hops, int index)
    {
        long delivered = hops[index].DeliveredNs;
        long sent = hops[index].SentNs;
        if (sent < 0)
        {
            return delivered;
        }

        long floor = index > 0 ? hops[index - 1].DeliveredNs : long.MinValue;
        return Math.Min(delivered, Math.Max(floor, sent));
    }

    /// <summary>
    /// The queue wait of a message the TDX module or the VMM handled: a "wait" slice on the receiver's track from the
    /// message's send (its arrival; from a log file, <c>t_ns - wait_ns</c>) to the start of its handling, where that is
    /// longer than zero, never before the previous slice on that track ended. Outside the flow: the handling slice that
    /// follows it carries the arrow.
    /// </summary>
    private void WriteWait(TdxRequest request, ReadOnlySpan<Hop> hops, Slice handling)
    {
        ref readonly Hop hop = ref hops[handling.Hop];
        if (hop.SentNs < 0)
        {
            return;
        }

        long key = ((long)handling.Pid << 32) | (uint)request.Vcpu;
        long start = Math.Max(SendTime(hops, handling.Hop), _trackFree.GetValueOrDefault(key, long.MinValue));
        long end = handling.Start;
        if (end <= start)
        {
            return;
        }

        Utf8JsonWriter w = BeginComplete(handling.Pid, request.Vcpu, start, end - start);
        w.WriteString(Cat, _texts.Get("wait"));
        w.WriteString(Name, _texts.Get(NameOf("wait: ", hop.Type)));
        w.WriteStartObject(Args);
        w.WriteNumber(LogFormat.Corr, request.Corr);
        w.WriteNumber(Seq, hop.Seq);
        w.WriteString(Message, _texts.Get(hop.Type));
        w.WriteNumber(LogFormat.Wait, end - start);
        w.WriteEndObject();
        w.WriteEndObject();
        EndEvent();
    }

    /// <summary>Opens a complete ("X") event on track (<paramref name="pid"/>, <paramref name="tid"/>) with its time and duration.</summary>
    private Utf8JsonWriter BeginComplete(int pid, int tid, long start, long duration)
    {
        NameThread(pid, tid);
        BeginEvent();
        Utf8JsonWriter w = _json;
        w.WriteStartObject();
        w.WriteString(Ph, Complete);
        w.WriteNumber(Pid, pid);
        w.WriteNumber(Tid, tid);
        LogFormat.WriteMicroseconds(w, Ts, start);
        LogFormat.WriteMicroseconds(w, Dur, duration);
        return w;
    }

    private static int ReplyOf(ReadOnlySpan<Hop> hops, int requestIndex)
    {
        for (int j = requestIndex + 1; j < hops.Length; j++)
        {
            if (hops[j].Kind == HopKind.TdcallCompleted)
            {
                return j;
            }
        }

        return -1;
    }

    private void WriteSlice(TdxRequest request, ReadOnlySpan<Hop> hops, Slice slice, bool first, bool last)
    {
        ref readonly Hop hop = ref hops[slice.Hop];
        Utf8JsonWriter w = BeginComplete(slice.Pid, request.Vcpu, slice.Start, Math.Max(0, slice.End - slice.Start));
        (string category, string name) = Describe(request, hops, slice);
        w.WriteString(Cat, _texts.Get(category));
        w.WriteString(Name, _texts.Get(name));
        w.WriteNumber(BindId, request.Corr);
        if (!first)
        {
            w.WriteBoolean(FlowIn, true);
        }

        if (!last)
        {
            w.WriteBoolean(FlowOut, true);
        }

        w.WriteStartObject(Args);
        w.WriteNumber(LogFormat.Corr, request.Corr);
        w.WriteNumber(Seq, hop.Seq);
        switch (slice.Role)
        {
            case SliceRole.Request:
                WriteRequestArgs(w, request, hops);
                break;
            case SliceRole.NestedTdcall:
                WriteOptional(w, LogFormat.Leaf, hop.Leaf);
                WriteOptional(w, LogFormat.Subfn, hop.Subfn);
                WriteStatusOf(w, slice.Hop);
                break;
            case SliceRole.Module:
                w.WriteString(Message, _texts.Get(hop.Type));
                WriteOptional(w, LogFormat.Leaf, hop.Leaf);
                WriteOptional(w, LogFormat.Subfn, hop.Subfn);
                WriteOptional(w, LogFormat.Reason, hop.Reason);
                break;
            case SliceRole.Vmm:
                WriteVmmArgs(w, hop, slice.Hop);
                break;
            default:
                w.WriteString(Message, _texts.Get(hop.Type));
                break;
        }

        if (slice.Open)
        {
            // No message closed this slice: the run ended while it was in progress.
            w.WriteBoolean(Incomplete, true);
        }

        w.WriteEndObject();
        w.WriteEndObject();
        EndEvent();
    }

    private void WriteRequestArgs(Utf8JsonWriter w, TdxRequest request, ReadOnlySpan<Hop> hops)
    {
        w.WriteNumber(LogFormat.Vcpu, request.Vcpu);
        TdxEvent main = _events[0];
        if (request.Kind == TdxRequestKind.Exit)
        {
            WriteOptional(w, LogFormat.Reason, main.Reason);
            TdEntryAction? action = EntryActionOf(hops);
            if (action is TdEntryAction a)
            {
                w.WriteString(Action, _texts.Get(ActionName(a)));
            }

            if (main.Gpa is ulong gpa)
            {
                LogFormat.WriteHex(w, Gpa, gpa);
            }
        }
        else
        {
            WriteOptional(w, LogFormat.Leaf, main.Leaf);
            WriteOptional(w, LogFormat.Subfn, main.Subfn);
        }

        if (request.IsComplete && request.Kind == TdxRequestKind.Tdcall && main.Status is ulong status)
        {
            LogFormat.WriteHex(w, LogFormat.Status, status);
        }
    }

    private void WriteStatusOf(Utf8JsonWriter w, int tdcallHop)
    {
        foreach (TdxEvent e in _events)
        {
            if (e.Kind == TdxEventKind.Tdcall && e.FirstHop == tdcallHop && e.Status is ulong status)
            {
                LogFormat.WriteHex(w, LogFormat.Status, status);
            }
        }
    }

    private void WriteVmmArgs(Utf8JsonWriter w, in Hop hop, int hopIndex)
    {
        WriteOptional(w, LogFormat.Subfn, hop.Subfn);
        foreach (TdxEvent e in _events)
        {
            if (e.Kind != TdxEventKind.Tdvmcall || e.FirstHop != hopIndex)
            {
                continue;
            }

            if (e.Status is ulong status)
            {
                LogFormat.WriteHex(w, LogFormat.Status, status);
            }

            WriteDeviceArgs(w, e);
        }

        if (hop.RegisterMask != 0)
        {
            Gprs registers = hop.Registers;
            LogFormat.WriteRegisters(w, LogFormat.Regs, hop.RegisterMask, in registers);
        }
    }

    private static void WriteDeviceArgs(Utf8JsonWriter w, in TdxEvent e)
    {
        if (e.Port is ushort port)
        {
            LogFormat.WriteHex(w, Port, port);
        }

        if (e.Gpa is ulong gpa)
        {
            LogFormat.WriteHex(w, Gpa, gpa);
        }

        if (e.Access != DeviceAccess.Unknown)
        {
            w.WriteString(Access, AccessName(e.Access));
        }

        if (e.Size is int size)
        {
            w.WriteNumber(Size, size);
        }

        if (e.Value is ulong value)
        {
            LogFormat.WriteHex(w, Value, value);
        }
    }

    private void WriteDeviceAccess(TdxRequest request, in TdxEvent e)
    {
        NameThread(DevicesPid, request.Vcpu);
        BeginEvent();
        Utf8JsonWriter w = _json;
        w.WriteStartObject();
        w.WriteString(Ph, Instant);
        w.WriteString(Scope, ThreadScope);
        w.WriteNumber(Pid, DevicesPid);
        w.WriteNumber(Tid, request.Vcpu);
        LogFormat.WriteMicroseconds(w, Ts, e.StartNs);
        w.WriteString(Cat, _texts.Get("device"));
        Span<char> name = stackalloc char[48];
        w.WriteString(Name, DeviceAccessName(e, name));
        w.WriteStartObject(Args);
        w.WriteNumber(LogFormat.Corr, request.Corr);
        w.WriteNumber(Seq, e.FirstSeq);
        WriteDeviceArgs(w, e);
        w.WriteEndObject();
        w.WriteEndObject();
        EndEvent();
    }

    private static ReadOnlySpan<char> DeviceAccessName(in TdxEvent e, Span<char> buffer)
    {
        // "port 0x3f8 out", "mmio 0xfeb00000 write": allocation-free.
        int pos = 0;
        ReadOnlySpan<char> prefix = e.Port is not null ? "port 0x" : "mmio 0x";
        prefix.CopyTo(buffer);
        pos += prefix.Length;
        ulong address = e.Port ?? e.Gpa ?? 0;
        address.TryFormat(buffer[pos..], out int digits, "x", CultureInfo.InvariantCulture);
        pos += digits;
        if (e.Access != DeviceAccess.Unknown)
        {
            buffer[pos++] = ' ';
            ReadOnlySpan<char> access = AccessName(e.Access);
            access.CopyTo(buffer[pos..]);
            pos += access.Length;
        }

        return buffer[..pos];
    }

    private static string AccessName(DeviceAccess access) => access switch
    {
        DeviceAccess.In => "in",
        DeviceAccess.Out => "out",
        DeviceAccess.Read => "read",
        DeviceAccess.Write => "write",
        _ => "unknown",
    };

    private static string ActionName(TdEntryAction action) => action switch
    {
        TdEntryAction.Emulated => "emulated",
        TdEntryAction.VeInjected => "ve-injected",
        TdEntryAction.DoubleFaultInjected => "df-injected",
        TdEntryAction.GeneralProtectionInjected => "gp-injected",
        TdEntryAction.TdKilled => "td-killed",
        _ => "unknown",
    };

    private static TdEntryAction? EntryActionOf(ReadOnlySpan<Hop> hops)
    {
        foreach (ref readonly Hop hop in hops)
        {
            if (hop.Kind == HopKind.TdEntered)
            {
                return hop.EntryAction;
            }
        }

        return null;
    }

    private (string Category, string Name) Describe(TdxRequest request, ReadOnlySpan<Hop> hops, Slice slice)
    {
        ref readonly Hop hop = ref hops[slice.Hop];
        switch (slice.Role)
        {
            case SliceRole.Request when request.Kind == TdxRequestKind.Exit:
                return ("ve", ExitName(hops));
            case SliceRole.Request:
            case SliceRole.NestedTdcall:
                return ("tdcall", TdcallName(hop));
            case SliceRole.Module:
                return ("tdx-module", hop.Kind switch
                {
                    HopKind.TdExited => NameOf("TD exit ", hop.Reason ?? "?"),
                    HopKind.TdVmcallCompleted => NameOf("TDVMCALL<", hop.Subfn ?? "?", "> completed"),
                    _ => TdcallName(hop),
                });
            case SliceRole.Vmm:
                return ("tdvmcall", NameOf("TDVMCALL<", hop.Subfn ?? "?", ">"));
            default:
                return ("resume", "resume");
        }
    }

    private string ExitName(ReadOnlySpan<Hop> hops)
    {
        string reason = hops[0].Reason ?? "?";
        TdEntryAction? action = EntryActionOf(hops);
        bool handlerRan = hops.Length > 2 && hops[2].Kind == HopKind.TdcallRequested;
        return action switch
        {
            TdEntryAction.Emulated => NameOf(reason, " (emulated by the TDX module)"),
            TdEntryAction.DoubleFaultInjected => NameOf("#DF on ", reason),
            TdEntryAction.GeneralProtectionInjected => NameOf("#GP on ", reason),
            TdEntryAction.TdKilled => NameOf("TD killed on ", reason),
            TdEntryAction.VeInjected => NameOf("#VE ", reason),
            _ => handlerRan ? NameOf("#VE ", reason) : NameOf("TD exit ", reason),
        };
    }

    private string TdcallName(in Hop hop) => hop.Subfn is null
        ? hop.Leaf ?? hop.Type
        : NameOf(hop.Leaf ?? "TDCALL", "<", hop.Subfn, ">");

    /// <summary>Concatenation cached by its parts: the set of distinct slice names is small, so steady state allocates nothing.</summary>
    private string NameOf(string a, string? b = null, string? c = null, string? d = null)
    {
        if (!_names.TryGetValue((a, b, c, d), out string? name))
        {
            name = string.Concat(a, b, c, d);
            _names.Add((a, b, c, d), name);
        }

        return name;
    }

    private void WriteOptional(Utf8JsonWriter w, JsonEncodedText name, string? value)
    {
        if (value is not null)
        {
            w.WriteString(name, _texts.Get(value));
        }
    }

    private void WriteProcess(int pid, string name)
    {
        WriteMetadata(pid, null, "process_name", name);
        WriteSortIndex(pid, null, "process_sort_index", pid);
    }

    private void NameThread(int pid, int vcpu)
    {
        if (_namedThreads.Add(((long)pid << 32) | (uint)vcpu))
        {
            WriteMetadata(pid, vcpu, "thread_name", string.Create(CultureInfo.InvariantCulture, $"vCPU {vcpu}"));
            WriteSortIndex(pid, vcpu, "thread_sort_index", vcpu);
        }
    }

    private void WriteMetadata(int pid, int? tid, string kind, string value)
    {
        BeginMetadata(pid, tid, kind);
        _json.WriteString(Name, value);
        EndMetadata();
    }

    private void WriteSortIndex(int pid, int? tid, string kind, int index)
    {
        BeginMetadata(pid, tid, kind);
        _json.WriteNumber("sort_index"u8, index);
        EndMetadata();
    }

    /// <summary>Opens a metadata ("M") event up to its <c>args</c> object, which the caller fills.</summary>
    private void BeginMetadata(int pid, int? tid, string kind)
    {
        BeginEvent();
        Utf8JsonWriter w = _json;
        w.WriteStartObject();
        w.WriteString(Ph, Metadata);
        w.WriteNumber(Pid, pid);
        if (tid is int t)
        {
            w.WriteNumber(Tid, t);
        }

        w.WriteString(Name, kind);
        w.WriteStartObject(Args);
    }

    private void EndMetadata()
    {
        _json.WriteEndObject();
        _json.WriteEndObject();
        EndEvent();
    }

    private void BeginEvent()
    {
        if (_finished)
        {
            throw new InvalidOperationException("The trace has been finished; no event may follow.");
        }

        if (!_firstEvent)
        {
            _output.Write(",\n"u8);
        }

        _firstEvent = false;
    }

    private void EndEvent()
    {
        _json.Flush();
        _json.Reset();
        EventsWritten++;
    }

    private enum SliceRole
    {
        Request,
        NestedTdcall,
        Resume,
        Module,
        Vmm,
    }

    /// <summary>One slice to write; <paramref name="Open"/> when no message ended it (the run stopped first).</summary>
    private readonly record struct Slice(SliceRole Role, int Pid, long Start, long End, int Hop, bool Open);
}
