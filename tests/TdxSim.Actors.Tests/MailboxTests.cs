using TdxSim.Actors.Events;
using TdxSim.Actors.Mailboxes;

namespace TdxSim.Actors.Tests;

public sealed class MailboxTests : TestKit.TestKit
{
    [Fact]
    public void BoundedMailbox_Overflow_PublishesDroppedAndCountsIt()
    {
        Sys.EventStream.Subscribe(TestActor, typeof(Dropped));
        IActorRef gate = Sys.ActorOf(Props.Create<GateActor>().WithMailbox(MailboxOptions.Bounded(10)), "gate");
        using var release = new ManualResetEventSlim(false);
        gate.Tell(release, TestActor);
        ExpectMsg("blocked");
        for (int i = 0; i < 15; i++)
        {
            gate.Tell(i, ActorRefs.NoSender);
        }

        IReadOnlyList<object> dropped = ReceiveN(5);
        Assert.Equal([10, 11, 12, 13, 14], dropped.Cast<Dropped>().Select(d => (int)d.Message));
        Assert.Contains("capacity 10", ((Dropped)dropped[0]).Reason, StringComparison.Ordinal);
        Assert.Equal(5, Sys.DroppedCount);
        Assert.Equal(0, Sys.DeadLetterCount);
        Sys.EventStream.Unsubscribe(TestActor);
        release.Set();
        // The queue drains once released; a query sent while it is still full would itself be dropped.
        AwaitAssert(() =>
        {
            gate.Tell("count?", TestActor);
            Assert.Equal(10, ExpectMsg<int>(TimeSpan.FromMilliseconds(200)));
        });
    }

    [Fact]
    public void BoundedMailbox_PushTimeout_OutsideSenderWaitsForSpace()
    {
        IActorRef gate = Sys.ActorOf(Props.Create<GateActor>().WithMailbox(MailboxOptions.Bounded(1, TimeSpan.FromSeconds(5))), "gate");
        using var release = new ManualResetEventSlim(false);
        gate.Tell(release, TestActor);
        ExpectMsg("blocked");
        gate.Tell(1, ActorRefs.NoSender);
        using var releaser = Task.Run(async () =>
        {
            await Task.Delay(100);
            release.Set();
        });
        // The mailbox is full: this Tell blocks until the actor has taken message 1.
        gate.Tell(2, ActorRefs.NoSender);
        Assert.Equal(0, Sys.DroppedCount);
        gate.Tell("count?", TestActor);
        Assert.Equal(2, ExpectMsg<int>());
    }

    [Fact]
    public void MailboxOptions_InvalidArguments_AreRejected()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => MailboxOptions.Bounded(0));
        Assert.Throws<ArgumentOutOfRangeException>(() => MailboxOptions.Bounded(4, TimeSpan.FromSeconds(-1)));
        Assert.Throws<ArgumentOutOfRangeException>(() => MailboxOptions.Bounded(4, Timeout.InfiniteTimeSpan));
    }

    [Fact]
    public void BoundedMailbox_UnderDeterministicDispatcher_DropsWithoutBlocking()
    {
        using ActorSystem system = ActorSystem.Create("det", ActorSystemOptions.Deterministic(1));
        IActorRef counter = system.ActorOf(Props.Create<CounterActor>().WithMailbox(MailboxOptions.Bounded(3, TimeSpan.FromSeconds(10))), "counter");
        for (int i = 0; i < 5; i++)
        {
            counter.Tell(i, ActorRefs.NoSender);
        }

        Assert.Equal(2, system.DroppedCount);
        system.Deterministic!.RunUntilIdle();
    }

    private sealed class GateActor : ReceiveActor
    {
        private int _count;

        public GateActor()
        {
            Receive<ManualResetEventSlim>(gate =>
            {
                Sender.Tell("blocked");
                gate.Wait(TimeSpan.FromSeconds(10));
            });
            Receive<int>(_ => _count++);
            Receive<string>(_ => Sender.Tell(_count));
        }
    }
}
