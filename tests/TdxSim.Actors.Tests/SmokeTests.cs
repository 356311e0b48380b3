namespace TdxSim.Actors.Tests;

public sealed class SmokeTests : TestKit.TestKit
{
    [Fact]
    public void Echo_RepliesToTestActor()
    {
        IActorRef echo = Sys.ActorOf(Props.Create<EchoActor>(), "echo");
        echo.Tell(new Ping(7), TestActor);
        Assert.Equal(7, ExpectMsg<Pong>().Id);
    }

    [Fact]
    public async Task Ask_ReturnsReply()
    {
        IActorRef echo = Sys.ActorOf(Props.Create<EchoActor>(), "echo");
        Pong pong = await echo.Ask<Pong>(new Ping(3), TimeSpan.FromSeconds(3));
        Assert.Equal(3, pong.Id);
    }
}
