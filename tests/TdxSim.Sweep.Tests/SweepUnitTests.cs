using Akka.Actor;
using Akka.Serialization;

namespace TdxSim.Sweep.Tests;

public sealed class SeedRangeTests
{
    [Theory]
    [InlineData("1..40", 1UL, 40UL)]
    [InlineData("7", 7UL, 7UL)]
    [InlineData("0x10..0x11", 16UL, 17UL)]
    [InlineData("5..5", 5UL, 5UL)]
    public void Parse_GoodRange_GivesBounds(string text, ulong first, ulong last)
    {
        SeedRange range = SeedRange.Parse(text);
        Assert.Equal(first, range.First);
        Assert.Equal(last, range.Last);
        Assert.Equal(last - first + 1, range.Count);
    }

    [Theory]
    [InlineData("5..1", "empty")]
    [InlineData("a..3", "not a number")]
    [InlineData("1..", "not a number")]
    [InlineData("1..-3", "not a number")]
    [InlineData("0..100000000", "more than")]
    public void Parse_BadRange_SaysWhy(string text, string why)
    {
        var e = Assert.Throws<FormatException>(() => SeedRange.Parse(text));
        Assert.Contains(why, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Plan_Keys_EverySeedWithEveryVcpuCountOnce()
    {
        var plan = new SweepPlan(new ScenarioSpec("smp-hello", "smp-hello", null, null), new SeedRange(3, 5), [2, 8]);
        Assert.Equal(
            [new RunKey(3, 2), new RunKey(3, 8), new RunKey(4, 2), new RunKey(4, 8), new RunKey(5, 2), new RunKey(5, 8)],
            plan.Keys().ToList());
        Assert.Equal(6UL, plan.Total);
        Assert.Equal("tdxsim run smp-hello --vcpus 8 --deterministic --seed 4", plan.ReplayCommand(new RunKey(4, 8)));
    }

    [Fact]
    public void Endpoint_Parse_RejectsBadPorts()
    {
        Assert.Equal(new Endpoint("127.0.0.1", 4053), Endpoint.Parse("127.0.0.1:4053"));
        Assert.Throws<FormatException>(() => Endpoint.Parse("127.0.0.1"));
        Assert.Throws<FormatException>(() => Endpoint.Parse("127.0.0.1:0"));
        Assert.Throws<FormatException>(() => Endpoint.Parse("127.0.0.1:70000"));
        Assert.Throws<FormatException>(() => Endpoint.Parse(":80"));
    }
}

public sealed class SweepSerializerTests : IDisposable
{
    private readonly ActorSystem _system = ActorSystem.Create("serializer-test", SweepConfig.Local());

    public static TheoryData<ISweepMessage> Messages() =>
    [
        new WorkerHello("1.0.0+abc", "akka.tcp://tdxsim-sweep@10.0.0.2:4000", 3),
        new WorkerWelcome(new ScenarioSpec("configs/x.yaml", null, "guest: builtin:demo\nvcpus: 2\n", "/home/u/configs")),
        new WorkerWelcome(new ScenarioSpec("smp-hello", "smp-hello", null, null)),
        new WorkerRefused("another build"),
        WorkRequest.Instance,
        new RunAssignment(ulong.MaxValue, 8, 2),
        new RunCompleted(new RunResult(42, 2, 4, "fatal", "vCPU 1: RIP 0x1000 \u00e9", 123_456, 9_999_999, "ab", "cd", 12.5, "local")),
        new SweepFinished(40),
    ];

    [Theory]
    [MemberData(nameof(Messages))]
    public void RoundTrip_EveryMessage_EqualRecordThroughTheSweepSerializer(ISweepMessage message)
    {
        Serializer serializer = _system.Serialization.FindSerializerFor(message);
        Assert.IsType<SweepSerializer>(serializer);
        string manifest = Akka.Serialization.Serialization.ManifestFor(serializer, message);
        object back = _system.Serialization.Deserialize(serializer.ToBinary(message), serializer.Identifier, manifest);
        Assert.Equal(message, back);
    }

    public void Dispose() => _system.Dispose();
}
