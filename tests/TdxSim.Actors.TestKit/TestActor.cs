namespace TdxSim.Actors.TestKit;

/// <summary>
/// The actor behind <see cref="TestKitBase.TestActor"/> and every <see cref="TestProbe"/>: it queues each
/// envelope it receives for the test thread, except the kit's own watch commands.
/// </summary>
internal sealed class TestActor : ReceiveActor
{
    public TestActor(TestMessageQueue queue)
    {
        Receive<WatchCommand>(command => Context.Watch(command.Subject));
        Receive<UnwatchCommand>(command => Context.Unwatch(command.Subject));
        ReceiveAny(_ => queue.Enqueue(Context.CurrentEnvelope));
    }

    internal sealed record WatchCommand(IActorRef Subject);

    internal sealed record UnwatchCommand(IActorRef Subject);
}
