using TdxSim.Actors.TestKit;
using Xunit.Sdk;

namespace TdxSim.Actors.Tests;

public sealed class TestKitTests : TestKit.TestKit
{
    [Fact]
    public void ExpectMsg_NothingArrives_FailsWithTimeoutMessage()
    {
        var error = Assert.Throws<XunitException>(() => ExpectMsg<string>(TimeSpan.FromMilliseconds(20)));
        Assert.Contains("Timeout", error.Message, StringComparison.Ordinal);
        Assert.Contains("String", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ExpectMsg_WrongType_FailsNamingWhatArrived()
    {
        TestActor.Tell(42, ActorRefs.NoSender);
        var error = Assert.Throws<XunitException>(() => ExpectMsg<string>());
        Assert.Contains("Int32", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ExpectMsg_PredicateFails_FailsWithHint()
    {
        TestActor.Tell(new Ping(1), ActorRefs.NoSender);
        var error = Assert.Throws<XunitException>(() => ExpectMsg<Ping>(p => p.Id == 2, hint: "id 2"));
        Assert.Contains("id 2", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ExpectMsgFrom_WrongSender_Fails()
    {
        IActorRef echo = Sys.ActorOf(Props.Create<EchoActor>(), "echo");
        TestActor.Tell("direct", ActorRefs.NoSender);
        Assert.Throws<XunitException>(() => ExpectMsgFrom<string>(echo));
    }

    [Fact]
    public void ExpectNoMsg_MessageArrives_Fails()
    {
        TestActor.Tell("surprise", ActorRefs.NoSender);
        // ExpectNoMsg returns as soon as a message arrives, so a long window costs nothing here.
        var error = Assert.Throws<XunitException>(() => ExpectNoMsg(TimeSpan.FromSeconds(5)));
        Assert.Contains("surprise", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ReceiveN_ReturnsMessagesInOrder_OrFailsWhenShort()
    {
        for (int i = 0; i < 3; i++)
        {
            TestActor.Tell(i, ActorRefs.NoSender);
        }

        Assert.Equal([0, 1, 2], ReceiveN(3));
        TestActor.Tell(3, ActorRefs.NoSender);
        var error = Assert.Throws<XunitException>(() => ReceiveN(2, TimeSpan.FromMilliseconds(50)));
        Assert.Contains("received only 1", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void FishForMessage_SkipsUntilMatch()
    {
        TestActor.Tell("noise", ActorRefs.NoSender);
        TestActor.Tell(1, ActorRefs.NoSender);
        TestActor.Tell(2, ActorRefs.NoSender);
        Assert.Equal(2, FishForMessage<int>(i => i == 2));
        ExpectNoMsg(TimeSpan.FromMilliseconds(20));
    }

    [Fact]
    public void ReceiveWhile_StopsAtFirstNonMatchingMessage_LeavingIt()
    {
        TestActor.Tell(1, ActorRefs.NoSender);
        TestActor.Tell(2, ActorRefs.NoSender);
        TestActor.Tell("stop", ActorRefs.NoSender);
        Assert.Equal([1, 2], ReceiveWhile<int>(_ => true, idle: TimeSpan.FromMilliseconds(200)));
        ExpectMsg("stop");
    }

    [Fact]
    public void Within_BlockTooSlow_Fails()
    {
        var error = Assert.Throws<XunitException>(() => Within(TimeSpan.FromMilliseconds(10), () => Thread.Sleep(60)));
        Assert.Contains("more than the maximum", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Within_BlockTooFast_FailsMinimum()
    {
        var error = Assert.Throws<XunitException>(() => Within(TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(2), () => { }));
        Assert.Contains("less than the minimum", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Within_InnerExpectationsUseTheRemainingTime()
    {
        var watch = System.Diagnostics.Stopwatch.StartNew();
        Assert.Throws<XunitException>(() => Within(TimeSpan.FromMilliseconds(150), () => ExpectMsg<string>()));
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(2), $"waited {watch.Elapsed} instead of the 150 ms left");
    }

    [Fact]
    public void AwaitCondition_BecomesTrue_Passes_OrTimesOut()
    {
        int calls = 0;
        AwaitCondition(() => ++calls >= 3);
        var error = Assert.Throws<XunitException>(() => AwaitCondition(() => false, TimeSpan.FromMilliseconds(30), message: "never"));
        Assert.Contains("never", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void AwaitAssert_RethrowsLastFailureOnTimeout()
    {
        var error = Assert.Throws<InvalidOperationException>(() => AwaitAssert(() => throw new InvalidOperationException("still wrong"), TimeSpan.FromMilliseconds(30)));
        Assert.Equal("still wrong", error.Message);
    }

    [Fact]
    public void Probe_SendReplyForward_UseTheProbeAsSender()
    {
        TestProbe probe = CreateTestProbe("probe");
        IActorRef echo = Sys.ActorOf(Props.Create<EchoActor>(), "echo");
        probe.Send(echo, new Ping(5));
        Assert.Equal(5, probe.ExpectMsgFrom<Pong>(echo).Id);

        TestActor.Tell("question", probe.Ref);
        ExpectMsg("question");
        probe.Send(TestActor, "from probe");
        ExpectMsgFrom<string>(probe.Ref);

        TestActor.Tell("ask", probe.Ref);
        ExpectMsg("ask");
        probe.Ref.Tell("to-forward", TestActor);
        probe.ExpectMsg("to-forward");
        probe.Forward(echo);
        ExpectMsgFrom<string>(echo, s => s == "to-forward");
        probe.Ref.Tell("ping?", TestActor);
        probe.ExpectMsg("ping?");
        probe.Reply("pong!");
        ExpectMsgFrom<string>(probe.Ref, s => s == "pong!");
    }

    [Fact]
    public void Probe_DuplicateName_IsRejected()
    {
        CreateTestProbe("same");
        Assert.Throws<InvalidActorNameException>(() => CreateTestProbe("same"));
    }

    [Fact]
    public void Dilated_ScalesByTheTimeFactor()
    {
        Assert.Equal(TimeSpan.FromSeconds(3) * Settings.TimeFactor, Dilated(TimeSpan.FromSeconds(3)));
        Assert.Equal(2.5, TestKitSettings.FromTimeFactorText("2.5").TimeFactor);
        Assert.Equal(1.0, TestKitSettings.FromTimeFactorText(null).TimeFactor);
        var error = Assert.Throws<InvalidOperationException>(() => TestKitSettings.FromTimeFactorText("-1"));
        Assert.Contains(TestKitSettings.TimeFactorVariable, error.Message, StringComparison.Ordinal);
    }
}

/// <summary>The same kit over a deterministic system: waits run the simulation and use virtual time.</summary>
public sealed class DeterministicTestKitTests : TestKit.TestKit
{
    public DeterministicTestKitTests()
        : base(ActorSystemOptions.Deterministic(seed: 1234))
    {
    }

    [Fact]
    public void ExpectMsg_PumpsTheLoop()
    {
        IActorRef echo = Sys.ActorOf(Props.Create<EchoActor>(), "echo");
        echo.Tell(new Ping(3), TestActor);
        Assert.Equal(3, ExpectMsg<Pong>().Id);
    }

    [Fact]
    public void ExpectNoMsg_TakesVirtualTimeNotRealTime()
    {
        var watch = System.Diagnostics.Stopwatch.StartNew();
        ExpectNoMsg(TimeSpan.FromSeconds(30));
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(5));
        Assert.Equal(30_000_000_000L, Sys.Clock.NowNanoseconds);
    }

    [Fact]
    public void ScheduledMessage_ArrivesAtItsVirtualTime_WithinChecksVirtualTime()
    {
        Sys.Scheduler.ScheduleTellOnce(TimeSpan.FromSeconds(10), TestActor, "alarm", ActorRefs.NoSender);
        Within(TimeSpan.FromSeconds(9), TimeSpan.FromSeconds(11), () => ExpectMsg("alarm", TimeSpan.FromSeconds(20)));
        Assert.Equal(10_000_000_000L, LastEnvelope.SentAtNs);
    }

    [Fact]
    public void Watch_And_AwaitResult_Work()
    {
        IActorRef echo = Sys.ActorOf(Props.Create<EchoActor>(), "echo");
        Assert.Equal(9, AwaitResult(echo.Ask<Pong>(new Ping(9), TimeSpan.FromSeconds(1))).Id);
        Watch(echo);
        Sys.Stop(echo);
        Assert.Equal(echo, ExpectMsg<Terminated>().ActorRef);
    }

    [Fact]
    public void AwaitAssert_WithExpectationsInside_RunsTheSimulation()
    {
        IActorRef counter = Sys.ActorOf(Props.Create<CounterActor>(), "counter");
        Sys.Scheduler.ScheduleTellRepeatedly(TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(1), counter, "tick", ActorRefs.NoSender);
        AwaitAssert(
            () =>
            {
                counter.Tell(new GetState(), TestActor);
                Assert.True(ExpectMsg<int>() >= 3);
            },
            TimeSpan.FromSeconds(10));
        Assert.True(Sys.Clock.NowNanoseconds >= 3_000_000_000L);
    }

    [Fact]
    public void AwaitCondition_RunsTheSimulationUntilTrue()
    {
        IActorRef counter = Sys.ActorOf(Props.Create<CounterActor>(), "counter");
        for (int i = 0; i < 10; i++)
        {
            counter.Tell(i, ActorRefs.NoSender);
        }

        AwaitCondition(() => Sys.Deterministic!.StepCount >= 11);
    }
}
