using System.Globalization;
using TdxSim.Machine.Logging.Pairing;
using TdxSim.Machine.Logging.Reading;

namespace TdxSim.Cli.Inspect;

/// <summary>
/// Builds an <see cref="InspectReport"/> from a message log: pairs the messages into requests with
/// <see cref="RequestPairer"/> (the same rules as the trace), derives the timed events (<see cref="TdxEvents"/>)
/// and accumulates per-key statistics. Streams: memory grows with the number of keys, not the log's length.
/// </summary>
public sealed class InspectAnalyzer : IRequestObserver
{
    private readonly InspectKey _key;
    private readonly int? _vcpu;
    private readonly RequestPairer _pairer;
    private readonly Dictionary<string, EventStatistics> _stats = new(StringComparer.Ordinal);
    private readonly Dictionary<(ulong, DeviceAccess), string> _addressKeys = [];
    private readonly Dictionary<int, string> _vcpuKeys = [];
    private readonly List<TdxEvent> _events = [];
    private long _nowNs;
    private long _incomplete;
    private long _unmatched;
    private long _messages;

    /// <summary>Creates an analyzer for <paramref name="key"/>, optionally only for <paramref name="vcpu"/>.</summary>
    public InspectAnalyzer(InspectKey key, int? vcpu)
    {
        _key = key;
        _vcpu = vcpu;
        _pairer = new RequestPairer(this);
    }

    /// <summary>Analyses every entry and returns the report.</summary>
    public static InspectReport Analyze(IEnumerable<LogEntry> entries, string logPath, InspectKey key, int? vcpu)
    {
        ArgumentNullException.ThrowIfNull(entries);
        var analyzer = new InspectAnalyzer(key, vcpu);
        foreach (LogEntry entry in entries)
        {
            analyzer.Add(entry);
        }

        return analyzer.Finish(logPath);
    }

    /// <summary>Feeds the next entry.</summary>
    public void Add(LogEntry entry)
    {
        ArgumentNullException.ThrowIfNull(entry);
        _messages++;
        _nowNs = Math.Max(_nowNs, entry.TimeNs);
        Hop hop = entry.ToHop();
        _pairer.Observe(in hop);
    }

    /// <summary>Ends the log and builds the report.</summary>
    public InspectReport Finish(string logPath)
    {
        _pairer.Finish();
        long totalSamples = _stats.Values.Sum(s => s.Count);
        long totalNs = _stats.Values.Sum(s => s.TotalNs);
        IEnumerable<KeyValuePair<string, EventStatistics>> ordered = _key == InspectKey.Vcpu
            ? _stats.OrderBy(p => int.Parse(p.Key, CultureInfo.InvariantCulture))
            : _stats.OrderByDescending(p => p.Value.Count).ThenByDescending(p => p.Value.TotalNs).ThenBy(p => p.Key, StringComparer.Ordinal);
        var rows = ordered.Select(p => new InspectRow(
            p.Key,
            p.Value,
            totalSamples == 0 ? 0 : 100.0 * p.Value.Count / totalSamples,
            totalNs == 0 ? 0 : 100.0 * p.Value.TotalNs / totalNs)).ToList();
        return new InspectReport(logPath, _key, _vcpu, rows, totalSamples, totalNs, _incomplete, _unmatched, _messages);
    }

    /// <inheritdoc/>
    void IRequestObserver.OnRequest(TdxRequest request)
    {
        if (_vcpu is int only && request.Vcpu != only)
        {
            return;
        }

        _events.Clear();
        TdxEvents.Extract(request, _events, _nowNs);
        foreach (TdxEvent e in _events)
        {
            string? key = KeyOf(e);
            if (key is null)
            {
                continue;
            }

            if (!e.IsComplete)
            {
                _incomplete++;
                continue;
            }

            if (!_stats.TryGetValue(key, out EventStatistics? stats))
            {
                stats = new EventStatistics();
                _stats.Add(key, stats);
            }

            stats.Add(e.DurationNs);
        }
    }

    /// <inheritdoc/>
    void IRequestObserver.OnOther(in Hop hop, bool unmatched)
    {
        if (unmatched && (_vcpu is null || hop.Vcpu == _vcpu))
        {
            _unmatched++;
        }
    }

    private string? KeyOf(in TdxEvent e) => _key switch
    {
        InspectKey.Subfn => e.Kind == TdxEventKind.Tdvmcall ? e.Subfn ?? "(none)" : null,
        InspectKey.Leaf => e.Kind == TdxEventKind.Tdcall ? e.Leaf ?? "(none)" : null,
        InspectKey.Reason => e.Kind == TdxEventKind.Exit ? e.Reason ?? "(none)" : null,
        InspectKey.Port => e.Kind == TdxEventKind.Tdvmcall && e.Port is ushort port ? AddressKey(port, e.Access) : null,
        InspectKey.Gpa => e.Kind == TdxEventKind.Tdvmcall && e.Gpa is ulong gpa ? AddressKey(gpa, e.Access) : null,
        InspectKey.Vcpu => e.Kind == TdxEventKind.Exit || (e.Kind == TdxEventKind.Tdcall && !e.IsNested) ? VcpuKey(e.Vcpu) : null,
        _ => null,
    };

    /// <summary>"0x3f8:OUT", "0xfeb00000:W": the address and direction, as perf kvm stat keys its ioport and mmio events.</summary>
    private string AddressKey(ulong address, DeviceAccess access)
    {
        if (!_addressKeys.TryGetValue((address, access), out string? key))
        {
            string suffix = access switch
            {
                DeviceAccess.In => ":IN",
                DeviceAccess.Out => ":OUT",
                DeviceAccess.Read => ":R",
                DeviceAccess.Write => ":W",
                _ => string.Empty,
            };
            key = string.Create(CultureInfo.InvariantCulture, $"0x{address:x}{suffix}");
            _addressKeys.Add((address, access), key);
        }

        return key;
    }

    private string VcpuKey(int vcpu)
    {
        if (!_vcpuKeys.TryGetValue(vcpu, out string? key))
        {
            key = vcpu.ToString(CultureInfo.InvariantCulture);
            _vcpuKeys.Add(vcpu, key);
        }

        return key;
    }
}
