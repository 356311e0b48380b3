using System.Text.Json;
using TdxSim.Cli.Inspect;

namespace TdxSim.Machine.Tests.Inspect;

public sealed class InspectCommandTests : IDisposable
{
    private readonly string _log = HandMadeLog.WriteTemp();

    public void Dispose() => File.Delete(_log);

    private (int Status, string Out, string Err) Run(InspectOptions options)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        int status = InspectCommand.Run(options, stdout, stderr);
        return (status, stdout.ToString(), stderr.ToString());
    }

    private (int Status, string Out, string Err) Run(InspectKey? by = null, int? vcpu = null, long? follow = null, bool json = false) =>
        Run(new InspectOptions(_log) { By = by, Vcpu = vcpu, Follow = follow, Json = json });

    private static string[] Lines(string text) => text.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.TrimEnd('\r')).ToArray();

    private static JsonElement Row(JsonElement report, string key) =>
        report.GetProperty("rows").EnumerateArray().Single(r => r.GetProperty("key").GetString() == key);

    [Fact]
    public void DefaultTable_IsBySubfn_InPerfKvmStatFormat()
    {
        (int status, string output, string errors) = Run();
        Assert.Equal(0, status);
        string[] lines = Lines(output);
        Assert.Equal("Analyze TDVMCALL events for all VCPUs:", lines[0]);
        Assert.Equal("            TDVMCALL    Samples  Samples%     Time%    Min Time    Max Time         Avg time", lines[2]);
        Assert.Equal("      Instruction.IO          3    75.00%    61.11%      0.30us      0.50us      0.37us ( +-  18.18% )", lines[3]);
        Assert.Equal("     #VE.RequestMMIO          1    25.00%    38.89%      0.70us      0.70us      0.70us ( +-   0.00% )", lines[4]);
        Assert.Equal("Total Samples:4, Total events handled time:1.80us.", lines[^1]);
        Assert.DoesNotContain("\u001b", output, StringComparison.Ordinal);

        // The incomplete VEINFO.GET is not a TDVMCALL; the unmatched TdcallCompleted is reported on stderr.
        Assert.DoesNotContain("no reply", errors, StringComparison.Ordinal);
        Assert.Contains("1 message(s) fit no request", errors, StringComparison.Ordinal);
    }

    [Fact]
    public void ByLeaf_CountsEveryTdcall_IncludingTheVeHandlers()
    {
        (int status, string output, string errors) = Run(InspectKey.Leaf, json: true);
        Assert.Equal(0, status);
        JsonElement report = JsonDocument.Parse(output).RootElement;
        JsonElement vmcall = Row(report, "TDG.VP.VMCALL");
        Assert.Equal(4, vmcall.GetProperty("samples").GetInt64());
        Assert.Equal(450, vmcall.GetProperty("min_ns").GetInt64());
        Assert.Equal(900, vmcall.GetProperty("max_ns").GetInt64());
        Assert.Equal(2550, vmcall.GetProperty("total_ns").GetInt64());
        Assert.Equal(637.5, vmcall.GetProperty("avg_ns").GetDouble());
        JsonElement veinfo = Row(report, "TDG.VP.VEINFO.GET");
        Assert.Equal(2, veinfo.GetProperty("samples").GetInt64());
        Assert.Equal(75.0, veinfo.GetProperty("avg_ns").GetDouble());
        Assert.Equal(6, report.GetProperty("total").GetProperty("samples").GetInt64());
        Assert.Equal(2700, report.GetProperty("total").GetProperty("time_ns").GetInt64());
        Assert.Equal(1, report.GetProperty("incomplete").GetInt64());
        Assert.Contains("1 event(s) have no reply", errors, StringComparison.Ordinal);
    }

    [Fact]
    public void ByReason_TimesTheWholeExit_AndOrdersTiesByName()
    {
        (_, string output, _) = Run(InspectKey.Reason);
        string[] lines = Lines(output);
        Assert.Equal("Analyze TD-EXIT events for all VCPUs:", lines[0]);
        Assert.Equal("       EPT_VIOLATION          1    50.00%    50.00%      1.10us      1.10us      1.10us ( +-   0.00% )", lines[3]);
        Assert.Equal("      IO_INSTRUCTION          1    50.00%    50.00%      1.10us      1.10us      1.10us ( +-   0.00% )", lines[4]);
        Assert.Equal("Total Samples:2, Total events handled time:2.20us.", lines[^1]);
    }

    [Fact]
    public void ByPort_KeysByPortAndDirection()
    {
        (_, string output, _) = Run(InspectKey.Port, json: true);
        JsonElement report = JsonDocument.Parse(output).RootElement;
        Assert.Equal("port", report.GetProperty("by").GetString());
        Assert.Equal("IO Port Access", report.GetProperty("event").GetString());
        Assert.Equal(["0x3f8:OUT", "0x80:OUT"], report.GetProperty("rows").EnumerateArray().Select(r => r.GetProperty("key").GetString()));
        Assert.Equal(2, Row(report, "0x3f8:OUT").GetProperty("samples").GetInt64());
        Assert.Equal(800, Row(report, "0x3f8:OUT").GetProperty("total_ns").GetInt64());
        Assert.Equal(300, Row(report, "0x80:OUT").GetProperty("min_ns").GetInt64());
    }

    [Fact]
    public void ByGpa_KeysMmioByAddressAndDirection()
    {
        (_, string output, _) = Run(InspectKey.Gpa);
        string[] lines = Lines(output);
        Assert.Equal("Analyze MMIO Access events for all VCPUs:", lines[0]);
        Assert.Equal("    0x8000feb00000:R          1   100.00%   100.00%      0.70us      0.70us      0.70us ( +-   0.00% )", lines[3]);
    }

    [Fact]
    public void ByVcpu_CountsGuestVisibleRequests_InVcpuOrder()
    {
        (_, string output, _) = Run(InspectKey.Vcpu, json: true);
        JsonElement report = JsonDocument.Parse(output).RootElement;
        JsonElement[] rows = [.. report.GetProperty("rows").EnumerateArray()];
        Assert.Equal(["0", "1"], rows.Select(r => r.GetProperty("key").GetString()));
        Assert.Equal(3, rows[0].GetProperty("samples").GetInt64());
        Assert.Equal(2650, rows[0].GetProperty("total_ns").GetInt64());
        Assert.Equal(1, rows[1].GetProperty("samples").GetInt64());
        Assert.Equal(500, rows[1].GetProperty("total_ns").GetInt64());
        Assert.Equal(75.0, rows[0].GetProperty("samples_pct").GetDouble());
        Assert.Equal(Math.Round(100.0 * 2650 / 3150, 4), rows[0].GetProperty("time_pct").GetDouble());
        Assert.Equal(1, report.GetProperty("incomplete").GetInt64());
    }

    [Fact]
    public void VcpuFilter_KeepsOnlyThatVcpusEvents()
    {
        (int status, string output, string errors) = Run(InspectKey.Subfn, vcpu: 1);
        Assert.Equal(0, status);
        string[] lines = Lines(output);
        Assert.Equal("Analyze TDVMCALL events for VCPU 1:", lines[0]);
        Assert.Equal("      Instruction.IO          1   100.00%   100.00%      0.30us      0.30us      0.30us ( +-   0.00% )", lines[3]);
        Assert.Equal("Total Samples:1, Total events handled time:0.30us.", lines[^1]);
        Assert.Contains("1 message(s) fit no request", errors, StringComparison.Ordinal);

        (_, string leafJson, _) = Run(InspectKey.Leaf, vcpu: 0, json: true);
        JsonElement report = JsonDocument.Parse(leafJson).RootElement;
        Assert.Equal(0, report.GetProperty("vcpu").GetInt32());
        Assert.Equal(3, Row(report, "TDG.VP.VMCALL").GetProperty("samples").GetInt64());
        Assert.Equal(0, report.GetProperty("incomplete").GetInt64());
        Assert.Equal(0, report.GetProperty("unmatched").GetInt64());
    }

    [Fact]
    public void JsonShape_HasEveryDocumentedField()
    {
        (_, string output, _) = Run(json: true);
        JsonElement report = JsonDocument.Parse(output).RootElement;
        Assert.Equal(
            ["log", "by", "vcpu", "event", "measures", "rows", "total", "incomplete", "unmatched", "messages"],
            report.EnumerateObject().Select(p => p.Name));
        Assert.Equal(_log, report.GetProperty("log").GetString());
        Assert.Equal("subfn", report.GetProperty("by").GetString());
        Assert.Equal(JsonValueKind.Null, report.GetProperty("vcpu").ValueKind);
        Assert.Equal(30, report.GetProperty("messages").GetInt64());
        JsonElement io = Row(report, "Instruction.IO");
        Assert.Equal(
            ["key", "samples", "samples_pct", "time_pct", "min_ns", "max_ns", "avg_ns", "stddev_pct", "total_ns"],
            io.EnumerateObject().Select(p => p.Name));
        Assert.Equal(75.0, io.GetProperty("samples_pct").GetDouble());
        Assert.Equal(61.1111, io.GetProperty("time_pct").GetDouble());
        Assert.Equal(366.667, io.GetProperty("avg_ns").GetDouble());
        Assert.Equal(18.1818, io.GetProperty("stddev_pct").GetDouble());
    }

    [Fact]
    public void Follow_PrintsTheRequestInOrder_FromTheVcpuToTheDeviceAndBack()
    {
        (int status, string output, _) = Run(follow: 12);
        Assert.Equal(0, status);
        string[] lines = Lines(output);
        Assert.Equal("Request corr 12 (vCPU 0): 8 messages, 1.100us from first to last delivery", lines[0]);
        string[] rows = lines[2..];
        Assert.Equal(8, rows.Length);
        Assert.Equal(Enumerable.Range(13, 8).Select(i => i.ToString(System.Globalization.CultureInfo.InvariantCulture)), rows.Select(r => r.Split(' ', StringSplitOptions.RemoveEmptyEntries)[0]));
        Assert.Contains("vcpu/0 -> tdx-module", rows[0], StringComparison.Ordinal);
        Assert.Contains("TdExited reason=EPT_VIOLATION", rows[0], StringComparison.Ordinal);
        Assert.Contains("tdx-module -> vmm", rows[5], StringComparison.Ordinal);
        Assert.Contains("[mmio 0x8000feb00000 read size 4]", rows[5], StringComparison.Ordinal);
        Assert.Contains("vmm -> tdx-module", rows[6], StringComparison.Ordinal);
        Assert.Contains("r11=0x170020", rows[6], StringComparison.Ordinal);
        Assert.Contains("tdx-module -> vcpu/0", rows[7], StringComparison.Ordinal);
        Assert.Contains("     1.100  ", rows[7], StringComparison.Ordinal);
    }

    [Fact]
    public void Follow_Json_ListsTheMessagesWithLogFieldsAndOffsets()
    {
        (_, string output, _) = Run(follow: 11, json: true);
        JsonElement result = JsonDocument.Parse(output).RootElement;
        Assert.Equal(11, result.GetProperty("corr").GetInt64());
        JsonElement[] messages = [.. result.GetProperty("messages").EnumerateArray()];
        Assert.Equal([9L, 10L, 11L, 12L], messages.Select(m => m.GetProperty("seq").GetInt64()));
        Assert.Equal([0L, 100L, 400L, 500L], messages.Select(m => m.GetProperty("dt_ns").GetInt64()));
        Assert.Equal("0x80", messages[1].GetProperty("regs").GetProperty("r14").GetString());
        Assert.Equal("0x0", messages[2].GetProperty("status").GetString());
        Assert.False(messages[0].TryGetProperty("status", out _));
    }

    [Fact]
    public void Follow_UnknownCorr_IsBadInput()
    {
        (int status, string output, string errors) = Run(follow: 1234);
        Assert.Equal(2, status);
        Assert.Empty(output);
        Assert.Equal($"tdxsim inspect: no message with corr 1234 in '{_log}'", errors.TrimEnd());
    }

    [Fact]
    public void MalformedLine_ExitsTwoWithOneLineNamingFileAndLine()
    {
        string[] lines = HandMadeLog.Text.Split('\n');
        lines[16] = lines[16].Replace("\"seq\":17,", string.Empty, StringComparison.Ordinal);
        string path = HandMadeLog.WriteTemp(string.Join('\n', lines));
        try
        {
            (int status, string output, string errors) = Run(new InspectOptions(path));
            Assert.Equal(2, status);
            Assert.Empty(output);
            Assert.Equal($"tdxsim inspect: {path}:17: missing field 'seq'", errors.TrimEnd());
            Assert.DoesNotContain(" at ", errors, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void MissingFile_ExitsTwo()
    {
        string path = Path.Combine(Path.GetTempPath(), $"tdxsim-absent-{Guid.NewGuid():N}.jsonl");
        (int status, string output, string errors) = Run(new InspectOptions(path));
        Assert.Equal(2, status);
        Assert.Empty(output);
        Assert.Equal($"tdxsim inspect: cannot read '{path}': no such file", errors.TrimEnd());
    }

    [Fact]
    public void BadUsage_ExitsTwo()
    {
        Assert.Equal(2, Run(vcpu: -1).Status);
        Assert.Contains("--vcpu must be 0 or more, got -1", Run(vcpu: -1).Err, StringComparison.Ordinal);
        Assert.Contains("cannot be combined with --by", Run(by: InspectKey.Leaf, follow: 10).Err, StringComparison.Ordinal);
        Assert.Equal(2, Run(new InspectOptions(_log) { By = (InspectKey)42 }).Status);
        Assert.Equal(2, Run(new InspectOptions(" ")).Status);
    }

    [Fact]
    public void EmptyLog_PrintsAnEmptyTable()
    {
        string path = HandMadeLog.WriteTemp(string.Empty);
        try
        {
            (int status, string output, _) = Run(new InspectOptions(path) { By = InspectKey.Reason });
            Assert.Equal(0, status);
            Assert.Equal("Total Samples:0, Total events handled time:0.00us.", Lines(output)[^1]);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Theory]
    [InlineData("subfn", InspectKey.Subfn)]
    [InlineData("LEAF", InspectKey.Leaf)]
    [InlineData("reason", InspectKey.Reason)]
    [InlineData("port", InspectKey.Port)]
    [InlineData("gpa", InspectKey.Gpa)]
    [InlineData("vcpu", InspectKey.Vcpu)]
    public void Keys_Parse(string text, InspectKey expected)
    {
        Assert.True(InspectKeys.TryParse(text, out InspectKey key));
        Assert.Equal(expected, key);
        Assert.Equal(text.ToLowerInvariant(), InspectKeys.NameOf(key));
    }

    [Fact]
    public void UnknownKey_DoesNotParse()
    {
        Assert.False(InspectKeys.TryParse("exit", out _));
        Assert.False(InspectKeys.TryParse(null, out _));
    }
}
