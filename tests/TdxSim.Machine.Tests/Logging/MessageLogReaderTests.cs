using System.Text;
using TdxSim.Abi;
using TdxSim.Runtime.Time;
using TdxSim.Machine.Logging;
using TdxSim.Machine.Logging.Reading;

namespace TdxSim.Machine.Tests.Logging;

public sealed class MessageLogReaderTests
{
    private static List<LogEntry> ReadText(string text) => [.. MessageLogReader.Read(new StringReader(text), "run.jsonl")];

    private static string ErrorOf(string text) => Assert.Throws<LogFormatException>(() => ReadText(text)).Message;

    private const string Good = """{"seq":1,"t_ns":10,"vcpu":0,"from":"vcpu/0","to":"tdx-module","type":"TdExited","reason":"IO_INSTRUCTION","corr":4,"regs":{"rax":"0x0","rcx":"0x1","rdx":"0x3f80001"}}""";

    [Fact]
    public void WrittenLog_ReadsBackFieldForField()
    {
        var clock = new ManualClock();
        var stream = new MemoryStream();
        var recorder = new MessageRecorder(clock, [new JsonLinesLogSink(stream)]);
        new FlowDriver(recorder, clock).VeIo(2, 77, 0x3F8, 0x41);
        recorder.Complete();

        List<LogEntry> entries = ReadText(Encoding.UTF8.GetString(stream.ToArray()));
        Assert.Equal(8, entries.Count);
        Assert.Equal(Enumerable.Range(1, 8).Select(i => (long)i), entries.Select(e => e.Seq));
        Assert.Equal(Enumerable.Range(1, 8), entries.Select(e => e.LineNumber));
        Assert.All(entries, e => Assert.Equal(2, e.Vcpu));
        Assert.All(entries, e => Assert.Equal(77, e.Corr));
        Assert.Equal(["TdExited", "TdEntered", "TdcallRequested", "TdcallCompleted", "TdcallRequested", "TdVmcallRequested", "TdVmcallCompleted", "TdcallCompleted"], entries.Select(e => e.Type));
        Assert.Equal("IO_INSTRUCTION", entries[0].Reason);
        Assert.Equal("TDG.VP.VEINFO.GET", entries[2].Leaf);
        Assert.Equal("Instruction.IO", entries[5].Subfn);
        Assert.Equal("vmm", entries[5].To);
        Assert.Equal("tdx-module", entries[5].From);
        Assert.Equal(0x3F8UL, entries[5].Register(Gpr.R14));
        Assert.Equal(0x41UL, entries[5].Register(Gpr.R15));
        Assert.Null(entries[5].Register(Gpr.Rbp));
        Assert.Equal(0UL, entries[6].Status);
        Assert.Null(entries[5].Status);

        // Repeated names are shared, not one string per line.
        Assert.Same(entries[0].To, entries[2].To);
    }

    [Fact]
    public void BlankLines_AreSkippedButCounted()
    {
        string second = Good.Replace("\"seq\":1", "\"seq\":2", StringComparison.Ordinal);
        List<LogEntry> entries = ReadText(Good + "\n\n  \n" + second + "\n");
        Assert.Equal([1, 4], entries.Select(e => e.LineNumber));
    }

    [Fact]
    public void NullVcpuAndSender_AndUnknownFields_AreAccepted()
    {
        LogEntry e = ReadText("""{"seq":3,"t_ns":0,"vcpu":null,"from":null,"to":"machine","type":"String","corr":-1,"future":{"x":[1,2]}}""")[0];
        Assert.Null(e.Vcpu);
        Assert.Null(e.From);
        Assert.Equal(-1, e.Corr);
        Assert.Equal(0, e.RegisterMask);
    }

    [Theory]
    [InlineData("""{"t_ns":1,"to":"a","type":"T","corr":1}""", "run.jsonl:2: missing field 'seq'")]
    [InlineData("""{"seq":5,"to":"a","type":"T","corr":1}""", "run.jsonl:2: missing field 't_ns'")]
    [InlineData("""{"seq":5,"t_ns":1,"type":"T","corr":1}""", "run.jsonl:2: missing field 'to'")]
    [InlineData("""{"seq":5,"t_ns":1,"to":"a","corr":1}""", "run.jsonl:2: missing field 'type'")]
    [InlineData("""{"seq":5,"t_ns":1,"to":"a","type":"T"}""", "run.jsonl:2: missing field 'corr'")]
    [InlineData("""{"seq":"5","t_ns":1,"to":"a","type":"T","corr":1}""", "run.jsonl:2: field 'seq' must be an integer, got a string \"5\"")]
    [InlineData("""{"seq":5,"t_ns":-1,"to":"a","type":"T","corr":1}""", "run.jsonl:2: field 't_ns' must be at least 0, got -1")]
    [InlineData("""{"seq":5,"t_ns":1,"vcpu":1.5,"to":"a","type":"T","corr":1}""", "run.jsonl:2: field 'vcpu' must be an integer, got a number 1.5")]
    [InlineData("""{"seq":5,"t_ns":1,"to":"a","type":"T","corr":1,"status":"12"}""", "run.jsonl:2: field 'status' must be a hex string like \"0x3f8\", got a string \"12\"")]
    [InlineData("""{"seq":5,"t_ns":1,"to":"a","type":"T","corr":1,"regs":{"rip":"0x1"}}""", "run.jsonl:2: unknown register 'rip' in 'regs' (expected rax, rcx, ..., r15 in lower case)")]
    [InlineData("""{"seq":5,"t_ns":1,"to":"a","type":"T","corr":1,"regs":{"r14":7}}""", "run.jsonl:2: register 'r14' must be a hex string like \"0x3f8\", got a number 7")]
    [InlineData("""{"seq":5,"t_ns":1,"to":"a","type":"T","corr":1,"regs":["r14"]}""", "run.jsonl:2: field 'regs' must be an object of register names to hex strings, got an array")]
    [InlineData("""{"seq":5,"seq":6,"t_ns":1,"to":"a","type":"T","corr":1}""", "run.jsonl:2: field 'seq' appears twice")]
    [InlineData("""{"seq":5,"t_ns":1,"to":"","type":"T","corr":1}""", "run.jsonl:2: field 'to' must not be empty")]
    [InlineData("""[1,2]""", "run.jsonl:2: expected a JSON object")]
    [InlineData("""{"seq":1,"t_ns":1,"to":"a","type":"T","corr":1}""", "run.jsonl:2: seq 1 does not follow the previous line's seq 1: the log must be in delivery order")]
    [InlineData("""{"seq":2,"t_ns":9,"to":"a","type":"T","corr":1}""", "run.jsonl:2: t_ns 9 is earlier than the previous line's t_ns 10: the log must be in delivery order")]
    public void MalformedLine_NamesFileLineAndProblem(string line, string expected)
    {
        Assert.Equal(expected, ErrorOf(Good + "\n" + line + "\n"));
    }

    [Fact]
    public void InvalidJson_NamesLineAndBytePosition()
    {
        string message = ErrorOf(Good + "\n" + """{"seq":2,"t_ns":11,"to":"a" "type":"T"}""" + "\n");
        Assert.StartsWith("run.jsonl:2: not valid JSON (", message, StringComparison.Ordinal);
        Assert.EndsWith("Expected either ',', '}', or ']' at byte 29)", message, StringComparison.Ordinal);
    }

    [Fact]
    public void TruncatedLastLine_IsReportedWithItsLineNumber()
    {
        string message = ErrorOf(Good + "\n" + """{"seq":2,"t_ns":11,"to":"a","ty""");
        Assert.StartsWith("run.jsonl:2: not valid JSON", message, StringComparison.Ordinal);
    }

    [Fact]
    public void TrailingContent_IsRejected()
    {
        string message = ErrorOf(Good + " {}\n");
        Assert.StartsWith("run.jsonl:1: not valid JSON", message, StringComparison.Ordinal);
    }

    [Fact]
    public void ReadFile_UsesThePathInErrors()
    {
        string path = Path.Combine(Path.GetTempPath(), $"tdxsim-reader-{Guid.NewGuid():N}.jsonl");
        File.WriteAllText(path, Good + "\nnot json\n");
        try
        {
            var ex = Assert.Throws<LogFormatException>(() => MessageLogReader.ReadFile(path).ToList());
            Assert.Equal(path, ex.FileName);
            Assert.Equal(2, ex.LineNumber);
            Assert.StartsWith($"{path}:2: not valid JSON", ex.Message, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void HexParsing_AcceptsTheWriterFormatOnly()
    {
        Assert.True(LogFormat.TryParseHex("0x0", out ulong zero));
        Assert.Equal(0UL, zero);
        Assert.True(LogFormat.TryParseHex("0xFFFFFFFFFFFFFFFF", out ulong max));
        Assert.Equal(ulong.MaxValue, max);
        Assert.False(LogFormat.TryParseHex("0x", out _));
        Assert.False(LogFormat.TryParseHex("3f8", out _));
        Assert.False(LogFormat.TryParseHex("0x1FFFFFFFFFFFFFFFF", out _));
        Assert.False(LogFormat.TryParseHex("0x-1", out _));
    }
}
