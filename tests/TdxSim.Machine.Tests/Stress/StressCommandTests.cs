using System.Text;
using System.Text.Json;
using TdxSim.Cli;

namespace TdxSim.Machine.Tests.Stress;

public sealed class StressCommandTests
{
    [Fact]
    public void Json_HasTheContractFields()
    {
        (int status, string stdout, string stderr) = Run("stress", "--op", "pio", "--path", "paravirt", "--count", "500", "--vcpus", "2", "--json");

        Assert.Equal(0, status);
        Assert.Equal(string.Empty, stderr);
        using JsonDocument doc = JsonDocument.Parse(stdout);
        JsonElement root = doc.RootElement;
        Assert.Equal("pio", root.GetProperty("op").GetString());
        Assert.Equal("paravirt", root.GetProperty("path").GetString());
        Assert.Equal(2, root.GetProperty("vcpus").GetInt32());
        Assert.Equal(500, root.GetProperty("ops").GetInt64());
        Assert.Equal(100, root.GetProperty("warmup_ops").GetInt64());
        Assert.Equal("single", root.GetProperty("module").GetString());
        Assert.True(root.GetProperty("seconds").GetDouble() > 0);
        Assert.True(root.GetProperty("ops_per_sec").GetDouble() > 0);
        JsonElement latency = root.GetProperty("latency_ns");
        foreach (string p in new[] { "p50", "p99", "p999", "max" })
        {
            Assert.True(latency.GetProperty(p).GetInt64() > 0, p);
        }

        Assert.True(root.GetProperty("messages").GetInt64() >= 500 * 4);

        // A clean run hands every message to a handler.
        JsonElement undelivered = root.GetProperty("undelivered");
        Assert.Equal([0L, 0L, 0L], new[] { "dead_letters", "dropped", "unhandled" }.Select(k => undelivered.GetProperty(k).GetInt64()));
    }

    [Theory]
    [InlineData("--op", "frob")]
    [InlineData("--path", "sideways")]
    [InlineData("--vmm", "many")]
    [InlineData("--module", "several")]
    [InlineData("--warmup", "lots")]
    [InlineData("--warmup", "2000000000")]
    [InlineData("--count", "0")]
    [InlineData("--vcpus", "0x")]
    [InlineData("--seconds", "-1")]
    public void BadOption_ExitsTwoWithOneLine(string option, string value)
    {
        (int status, string stdout, string stderr) = Run("stress", option, value);
        Assert.Equal(2, status);
        Assert.Equal(string.Empty, stdout);
        Assert.Single(stderr.TrimEnd().Split('\n'));
        Assert.StartsWith("tdxsim: ", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void ModulePerVcpu_IsReportedAndRuns()
    {
        (int status, string stdout, string stderr) = Run("stress", "--op", "vmcall", "--path", "paravirt", "--count", "600", "--vcpus", "2", "--module", "per-vcpu", "--warmup", "0", "--json");
        Assert.Equal(0, status);
        Assert.Equal(string.Empty, stderr);
        using JsonDocument doc = JsonDocument.Parse(stdout);
        Assert.Equal("per-vcpu", doc.RootElement.GetProperty("module").GetString());
        Assert.Equal(0, doc.RootElement.GetProperty("warmup_ops").GetInt64());
        Assert.Equal(600, doc.RootElement.GetProperty("ops").GetInt64());
    }

    [Fact]
    public void Log_RecordsEveryMessageOfTheRunAsJsonLines()
    {
        string folder = Directory.CreateTempSubdirectory("tdxsim-stress-log-").FullName;
        try
        {
            string log = Path.Combine(folder, "s.jsonl");
            (int status, _, string stderr) = Run("stress", "--op", "pio", "--path", "paravirt", "--count", "200", "--warmup", "50", "--log", log, "--json");
            Assert.Equal(0, status);
            Assert.Equal(string.Empty, stderr);
            string[] lines = File.ReadAllLines(log);
            int tdcalls = 0;
            foreach (string line in lines)
            {
                using JsonDocument doc = JsonDocument.Parse(line);
                if (doc.RootElement.GetProperty("type").GetString() == "TdcallRequested"
                    && doc.RootElement.TryGetProperty("subfn", out JsonElement subfn) && subfn.GetString() == "Instruction.IO")
                {
                    tdcalls++;
                }
            }

            // Warm-up included: the log is of the whole run.
            Assert.Equal(250, tdcalls);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [Fact]
    public void Log_ThatCannotBeCreated_IsAUsageError()
    {
        (int status, string stdout, string stderr) = Run("stress", "--count", "10", "--log", "/nonexistent-dir/x.jsonl");
        Assert.Equal(2, status);
        Assert.Equal(string.Empty, stdout);
        Assert.Contains("/nonexistent-dir/x.jsonl", stderr, StringComparison.Ordinal);
        Assert.Single(stderr.TrimEnd().Split('\n'));
    }

    [Fact]
    public void CountAndSeconds_Together_AreRefused()
    {
        (int status, _, string stderr) = Run("stress", "--count", "10", "--seconds", "1");
        Assert.Equal(2, status);
        Assert.Contains("cannot be combined", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void VmcallByVe_IsRefusedAsUsage()
    {
        (int status, _, string stderr) = Run("stress", "--op", "vmcall", "--path", "ve");
        Assert.Equal(2, status);
        Assert.Contains("paravirt", stderr, StringComparison.Ordinal);
    }

    private static (int Status, string Stdout, string Stderr) Run(params string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        using var raw = new MemoryStream();
        int status = Program.Run(args, raw, stdout, stderr);
        string text = stdout.ToString() + Encoding.UTF8.GetString(raw.ToArray());
        return (status, text, stderr.ToString());
    }
}
