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
    [InlineData("--cost", "vmm_ns=-1")]
    [InlineData("--cost", "vmm=1")]
    [InlineData("--cost", "device_ns/com7=1")]
    [InlineData("--cost", "vmm_ns")]
    [InlineData("--sweep-vcpus", "1,,2")]
    [InlineData("--sweep-vcpus", "1,999")]
    [InlineData("--vmm", "single,per-vcpu")]
    [InlineData("--plot", "x.svg")]
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

    [Fact]
    public void Json_HasTheContentionReport_AndTheCostModelInVirtualTime()
    {
        (int status, string stdout, string stderr) = Run(
            "stress", "--op", "pio", "--path", "paravirt", "--count", "800", "--vcpus", "4", "--deterministic", "--cost", "vmm_ns=1000",
            "--cost", "device_ns/com1=50", "--json");
        Assert.Equal(0, status);
        Assert.Equal(string.Empty, stderr);
        using JsonDocument doc = JsonDocument.Parse(stdout);
        JsonElement root = doc.RootElement;
        Assert.Equal([200L, 200L, 200L, 200L], root.GetProperty("vcpu_ops").EnumerateArray().Select(e => e.GetInt64()));
        Assert.Equal(1.0, root.GetProperty("fairness").GetDouble(), 6);
        Assert.Equal(1000, root.GetProperty("cost_model").GetProperty("vmm_ns").GetInt64());
        Assert.Equal(50, root.GetProperty("cost_model").GetProperty("device_ns").GetProperty("com1").GetInt64());
        Assert.True(root.GetProperty("contention_modelled").GetBoolean());
        JsonElement vmm = root.GetProperty("actors").EnumerateArray().Single(a => a.GetProperty("actor").GetString() == "vmm");
        // The 800 port writes, and each vCPU's last TDVMCALL (the stress guest's stop). (AttachVcpus, where posted
        // interrupts go, is sent only for --kernel guests.)
        Assert.Equal(804, vmm.GetProperty("messages").GetInt64());
        Assert.InRange(vmm.GetProperty("busy_ns").GetInt64(), 800 * (1000 + 50), 804 * (1000 + 50));
        Assert.InRange(vmm.GetProperty("utilization").GetDouble(), 0.9, 1.0);
        Assert.True(vmm.GetProperty("wait_ns").GetProperty("p99").GetInt64() > 0);
        Assert.True(vmm.GetProperty("max_queue").GetInt64() >= 2);
        Assert.Equal("vmm", root.GetProperty("bottleneck").GetString());
        JsonElement com1 = root.GetProperty("devices").EnumerateArray().Single(d => d.GetProperty("device").GetString() == "com1");
        Assert.Equal(800, com1.GetProperty("accesses").GetInt64());
        Assert.Equal(800 * 50, com1.GetProperty("busy_ns").GetInt64());
    }

    [Fact]
    public void RealTimeJson_HasNoCostModel()
    {
        (int status, string stdout, _) = Run("stress", "--op", "pio", "--count", "300", "--json");
        Assert.Equal(0, status);
        using JsonDocument doc = JsonDocument.Parse(stdout);
        Assert.False(doc.RootElement.TryGetProperty("cost_model", out _));
        Assert.False(doc.RootElement.GetProperty("contention_modelled").GetBoolean());
        Assert.Contains(doc.RootElement.GetProperty("actors").EnumerateArray(), a => a.GetProperty("actor").GetString() == "tdx-module");
    }

    [Theory]
    [InlineData("png")]
    [InlineData("svg")]
    public void SweepVcpus_PrintsAnArray_AndPlots(string format)
    {
        string folder = Directory.CreateTempSubdirectory("tdxsim-sweep-plot-").FullName;
        try
        {
            string plot = Path.Combine(folder, "curve." + format);
            (int status, string stdout, string stderr) = Run(
                "stress", "--op", "pio", "--path", "paravirt", "--count", "400", "--deterministic", "--sweep-vcpus", "1,2,4",
                "--vmm", "single,per-vcpu", "--json", "--plot", plot);
            Assert.Equal(0, status);
            using JsonDocument doc = JsonDocument.Parse(stdout);
            JsonElement[] runs = [.. doc.RootElement.EnumerateArray()];
            Assert.Equal(6, runs.Length);
            Assert.Equal([1, 2, 4, 1, 2, 4], runs.Select(r => r.GetProperty("vcpus").GetInt32()));
            Assert.Equal(["single", "single", "single", "per-vcpu", "per-vcpu", "per-vcpu"], runs.Select(r => r.GetProperty("vmm").GetString()));

            // A single VMM saturates; one per vCPU scales.
            double single4 = runs[2].GetProperty("ops_per_sec").GetDouble(), per4 = runs[5].GetProperty("ops_per_sec").GetDouble();
            Assert.True(per4 > 2 * single4, $"{per4} against {single4}");
            Assert.Contains("plot written", stderr, StringComparison.Ordinal);
            byte[] image = File.ReadAllBytes(plot);
            if (format == "png")
            {
                Assert.Equal(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G' }, image[..4]);
            }
            else
            {
                Assert.Contains("<svg", Encoding.UTF8.GetString(image), StringComparison.Ordinal);
            }

            Assert.True(image.Length > 5_000);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [Fact]
    public void SweepVcpus_WithoutJson_PrintsATable()
    {
        (int status, string stdout, _) = Run("stress", "--op", "pio", "--path", "paravirt", "--count", "200", "--deterministic", "--sweep-vcpus", "1,8");
        Assert.Equal(0, status);
        string[] lines = stdout.TrimEnd().Split('\n');
        Assert.Equal(3, lines.Length);
        Assert.Contains("bottleneck", lines[0], StringComparison.Ordinal);
        Assert.Contains("vmm (100 %)", lines[2], StringComparison.Ordinal);
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
