using System.Text;
using System.Text.Json;
using TdxSim.Abi;
using TdxSim.Abi.Messages;
using Akka.Actor;
using TdxSim.Runtime.Tracing;
using TdxSim.Runtime.Time;
using TdxSim.Machine.Logging;

namespace TdxSim.Machine.Tests.Logging;

public sealed class JsonLinesLogSinkTests
{
    private static List<JsonElement> Record(params (object Message, IActorRef? From, IActorRef To, long Corr)[] deliveries)
    {
        var clock = new ManualClock(1000);
        var stream = new MemoryStream();
        var recorder = new MessageRecorder(clock, [new JsonLinesLogSink(stream)]);
        foreach ((object message, IActorRef? from, IActorRef to, long corr) in deliveries)
        {
            clock.AdvanceBy(10);
            recorder.OnDelivered(new Delivery(message, from, corr, clock.NowNanoseconds), to);
        }

        MessageLogReport report = recorder.Complete();
        Assert.True(report.IsLossless, report.ToString());
        string text = Encoding.UTF8.GetString(stream.ToArray());
        Assert.EndsWith("\n", text, StringComparison.Ordinal);
        return [.. text.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(line => JsonDocument.Parse(line).RootElement.Clone())];
    }

    private static string[] Keys(JsonElement e) => [.. e.EnumerateObject().Select(p => p.Name)];

    private static Dictionary<string, string> Regs(JsonElement e) =>
        e.GetProperty("regs").EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetString()!);

    [Fact]
    public void TdcallRequested_LogsLeafSubfnAndOnlyTheInputRegisters()
    {
        TdcallRequested call = Td.VmcallIo(0, 0x3F8, output: true, size: 1, value: 0x41);
        JsonElement line = Record((call, Td.Vcpu(0), Td.Module, 42))[0];

        Assert.Equal(["seq", "t_ns", "vcpu", "from", "to", "type", "leaf", "subfn", "corr", "regs"], Keys(line));
        Assert.Equal(1, line.GetProperty("seq").GetInt64());
        Assert.Equal(1010, line.GetProperty("t_ns").GetInt64());
        Assert.Equal(0, line.GetProperty("vcpu").GetInt32());
        Assert.Equal("vcpu/0", line.GetProperty("from").GetString());
        Assert.Equal("tdx-module", line.GetProperty("to").GetString());
        Assert.Equal("TdcallRequested", line.GetProperty("type").GetString());
        Assert.Equal("TDG.VP.VMCALL", line.GetProperty("leaf").GetString());
        Assert.Equal("Instruction.IO", line.GetProperty("subfn").GetString());
        Assert.Equal(42, line.GetProperty("corr").GetInt64());

        // TDG.VP.VMCALL reads RAX, RCX and the registers RCX selects (0xFFCC): RBP (bit 5) is not among them.
        Dictionary<string, string> regs = Regs(line);
        Assert.Equal(["rax", "rcx", "rdx", "rbx", "rsi", "rdi", "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15"], regs.Keys);
        Assert.Equal("0xffcc", regs["rcx"]);
        Assert.Equal("0x3f8", regs["r14"]);
        Assert.Equal("0x41", regs["r15"]);
        Assert.Equal("0x0", regs["rax"]);
    }

    [Fact]
    public void TdVmcallRequested_LogsOnlyTheRegistersTheGuestSelected()
    {
        Gprs r = default;
        r[Gpr.R11] = (ulong)TdVmcallSubfunction.InstructionIo;
        r[Gpr.R12] = 2;
        r[Gpr.R14] = 0xCFC;
        r[Gpr.Rdi] = 0x1234; // present in the record, not selected
        var message = new TdVmcallRequested(3, GprMask.R10 | GprMask.R11 | GprMask.R12 | GprMask.R14, r);
        JsonElement line = Record((message, Td.Module, Td.Vmm, 7))[0];

        Assert.Equal(["r10", "r11", "r12", "r14"], Regs(line).Keys);
        Assert.Equal("0xcfc", Regs(line)["r14"]);
        Assert.Equal("vmm", line.GetProperty("to").GetString());
        Assert.Equal(3, line.GetProperty("vcpu").GetInt32());
        Assert.Equal("Instruction.IO", line.GetProperty("subfn").GetString());
        Assert.False(line.TryGetProperty("status", out _));
    }

    [Fact]
    public void Replies_CarryStatusInHex()
    {
        var toVmm = Td.ToVmm(Td.VmcallIo(0, 0x80, true, 1, 5));
        TdVmcallCompleted reply = Td.FromVmm(toVmm, TdVmcall.InvalidOperand);
        TdcallCompleted done = Td.Completed(0, TdcallLeaf.VpVeinfoGet, TdxStatus.NoValidVeInfo);
        List<JsonElement> lines = Record((reply, Td.Vmm, Td.Module, 1), (done, Td.Module, Td.Vcpu(0), 1));

        Assert.Equal("0x8000000000000000", lines[0].GetProperty("status").GetString());
        Assert.Equal(["r10", "r11"], Regs(lines[0]).Keys);
        Assert.Equal("0xc000070400000000", lines[1].GetProperty("status").GetString());
        Assert.Equal("TDG.VP.VEINFO.GET", lines[1].GetProperty("leaf").GetString());
        Assert.Equal(["rax"], Regs(lines[1]).Keys);
    }

    [Fact]
    public void TdExited_LogsReasonAndOnlyRaxRcxRdx()
    {
        Gprs r = default;
        r[Gpr.Rax] = 1;
        r[Gpr.Rsi] = 0x5EC12E7; // guest state the module sees but the log's receiver view excludes
        var exit = new TdExited(1, Td.IoExit(0x3F8, isIn: false, size: 1), r);
        JsonElement line = Record((exit, Td.Vcpu(1), Td.Module, 3))[0];

        Assert.Equal("IO_INSTRUCTION", line.GetProperty("reason").GetString());
        Assert.False(line.TryGetProperty("leaf", out _));
        Assert.False(line.TryGetProperty("subfn", out _));
        Assert.Equal(["rax", "rcx", "rdx"], Regs(line).Keys);
    }

    [Fact]
    public void MessageWithoutRegisters_HasNoRegsField_AndExactFormat()
    {
        List<JsonElement> lines = Record((new StartVcpu(1), null, Td.Vcpu(1), 9));
        JsonElement line = lines[0];
        Assert.Equal(
            """{"seq":1,"t_ns":1010,"vcpu":1,"from":null,"to":"vcpu/1","type":"StartVcpu","corr":9}""",
            line.GetRawText());
    }

    [Fact]
    public void NonTdxMessage_HasNullVcpuAndOnlyTheKnownFields()
    {
        var probe = new FakeActorRef("/user/probe");
        JsonElement line = Record(("hello", probe, Td.MachineRoot, 5))[0];

        Assert.Equal(["seq", "t_ns", "vcpu", "from", "to", "type", "corr"], Keys(line));
        Assert.Equal(JsonValueKind.Null, line.GetProperty("vcpu").ValueKind);
        Assert.Equal("probe", line.GetProperty("from").GetString());
        Assert.Equal("machine", line.GetProperty("to").GetString());
        Assert.Equal("String", line.GetProperty("type").GetString());
    }

    [Fact]
    public void GuestStopRequested_LogsItsKindAsReason()
    {
        var stop = new GuestStopRequested(0, GuestStopKind.DebugExit, 0x31, "debug exit");
        JsonElement line = Record((stop, Td.Vmm, Td.MachineRoot, 2))[0];
        Assert.Equal("DebugExit", line.GetProperty("reason").GetString());
    }
}
