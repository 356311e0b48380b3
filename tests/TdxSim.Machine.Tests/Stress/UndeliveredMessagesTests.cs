namespace TdxSim.Machine.Tests.Stress;

public sealed class UndeliveredMessagesTests
{
    [Fact]
    public void From_ReadsTheRuntimeCounters_MissingOnesAreZero()
    {
        var counters = new Dictionary<string, long>
        {
            ["runtime.dead_letters"] = 2,
            ["runtime.unhandled"] = 1,
            ["vmm.tdvmcall"] = 99,
        };

        UndeliveredMessages u = UndeliveredMessages.From(counters);

        Assert.Equal(new UndeliveredMessages(2, 0, 1), u);
        Assert.Equal(3, u.Total);
    }

    [Theory]
    [InlineData(0, 0, 0, "every message was handled")]
    [InlineData(1, 0, 0, "1 message was not handled: 1 dead letter (recipient stopped)")]
    [InlineData(2, 3, 1, "6 messages were not handled: 2 dead letters (recipient stopped), 3 dropped by full mailboxes, 1 unhandled")]
    [InlineData(0, 1, 0, "1 message was not handled: 1 dropped by a full mailbox")]
    public void Describe_NamesEachKindThatOccurred(long dead, long dropped, long unhandled, string expected)
        => Assert.Equal(expected, new UndeliveredMessages(dead, dropped, unhandled).Describe());

    [Fact]
    public void CleanRun_HasNoUndeliveredMessages()
    {
        MachineResult result = Guests.TdRunner.RunBuiltIn("smp-hello", vcpus: 2).AssertExit(0, "halted").Result;
        Assert.Equal(default, result.Undelivered);
    }
}
