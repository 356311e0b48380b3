using System.Globalization;
using System.Text;
using TdxSim.Abi;
using TdxSim.Machine.Logging;
using TdxSim.Machine.Logging.Pairing;
using TdxSim.Machine.Logging.Reading;

namespace TdxSim.Cli.Inspect;

/// <summary>The messages of one request (<c>--follow CORR</c>), in delivery order.</summary>
/// <param name="LogPath">The log file as given.</param>
/// <param name="Corr">The correlation id followed.</param>
/// <param name="Vcpu">The <c>--vcpu</c> filter, if any.</param>
/// <param name="Messages">Every message with that correlation id (and vCPU), in log order.</param>
public sealed record FollowResult(string LogPath, long Corr, int? Vcpu, IReadOnlyList<LogEntry> Messages)
{
    /// <summary>Collects the messages of <paramref name="corr"/> from <paramref name="entries"/>.</summary>
    public static FollowResult Collect(IEnumerable<LogEntry> entries, string logPath, long corr, int? vcpu)
    {
        ArgumentNullException.ThrowIfNull(entries);
        var messages = new List<LogEntry>();
        foreach (LogEntry e in entries)
        {
            if (e.Corr == corr && (vcpu is null || e.Vcpu == vcpu))
            {
                messages.Add(e);
            }
        }

        return new FollowResult(logPath, corr, vcpu, messages);
    }
}

/// <summary>
/// Prints a followed request as text: one line per message with its sequence number, time, time since the
/// request began, route and details (leaf, sub-function, reason, status, visible registers). A TDVMCALL to the
/// VMM also shows the device access it asks for (port or GPA, direction, size, value), so the path reads from
/// the vCPU to the device and back.
/// </summary>
public static class FollowRenderer
{
    /// <summary>Writes <paramref name="result"/> to <paramref name="output"/>.</summary>
    public static void Write(FollowResult result, TextWriter output)
    {
        ArgumentNullException.ThrowIfNull(result);
        ArgumentNullException.ThrowIfNull(output);
        CultureInfo c = CultureInfo.InvariantCulture;
        IReadOnlyList<LogEntry> messages = result.Messages;
        long start = messages[0].TimeNs;
        long end = messages[^1].TimeNs;
        string vcpus = string.Join(", ", messages.Where(m => m.Vcpu is not null).Select(m => m.Vcpu!.Value).Distinct().Order());
        output.WriteLine(string.Create(
            c,
            $"Request corr {result.Corr}{(vcpus.Length > 0 ? $" (vCPU {vcpus})" : string.Empty)}: {messages.Count} messages, {(end - start) / 1000.0:F3}us from first to last delivery"));
        output.WriteLine();

        string[] routes = [.. messages.Select(m => $"{m.From ?? "(no sender)"} -> {m.To}")];
        int routeWidth = Math.Max("route".Length, routes.Max(r => r.Length));
        output.WriteLine(string.Create(c, $"{"seq",8} {"t_ns",14} {"+us",10}  {"route".PadRight(routeWidth)}  message"));
        for (int i = 0; i < messages.Count; i++)
        {
            LogEntry m = messages[i];
            output.WriteLine(string.Create(
                c,
                $"{m.Seq,8} {m.TimeNs,14} {(m.TimeNs - start) / 1000.0,10:F3}  {routes[i].PadRight(routeWidth)}  {Details(m)}"));
        }
    }

    private static string Details(LogEntry m)
    {
        var text = new StringBuilder(m.Type);
        Append(text, "leaf", m.Leaf);
        Append(text, "subfn", m.Subfn);
        Append(text, "reason", m.Reason);
        if (m.Status is ulong status)
        {
            Append(text, "status", LogFormat.Hex(status));
        }

        if (Hop.KindOf(m.Type) == HopKind.TdVmcallRequested && DeviceAccessOf(m) is string device)
        {
            text.Append("  [").Append(device).Append(']');
        }

        if (m.RegisterMask != 0)
        {
            text.Append(" ");
            for (int i = 0; i < Gprs.Count; i++)
            {
                if (m.Register((Gpr)i) is ulong value)
                {
                    text.Append(' ').Append(Gprs.Names[i]).Append('=').Append(LogFormat.Hex(value));
                }
            }
        }

        return text.ToString();
    }

    private static void Append(StringBuilder text, string name, string? value)
    {
        if (value is not null)
        {
            text.Append(' ').Append(name).Append('=').Append(value);
        }
    }

    /// <summary>The device access a TDVMCALL asks for (GHCI: R12 size, R13 direction, R14 port or GPA, R15 value).</summary>
    private static string? DeviceAccessOf(LogEntry m)
    {
        bool io = TdxEvents.IsPortIo(m.Subfn);
        if (!io && !TdxEvents.IsMmio(m.Subfn))
        {
            return null;
        }

        if (m.Register(Gpr.R14) is not ulong address)
        {
            return null;
        }

        CultureInfo c = CultureInfo.InvariantCulture;
        var text = new StringBuilder(io ? "port " : "mmio ").Append(LogFormat.Hex(address));
        bool? write = m.Register(Gpr.R13) is ulong dir ? dir == 1 : null;
        if (write is bool w)
        {
            text.Append(io ? (w ? " out" : " in") : (w ? " write" : " read"));
        }

        if (m.Register(Gpr.R12) is ulong size)
        {
            text.Append(c, $" size {size}");
        }

        if (write == true && m.Register(Gpr.R15) is ulong value)
        {
            text.Append(" value ").Append(LogFormat.Hex(value));
        }

        return text.ToString();
    }
}
