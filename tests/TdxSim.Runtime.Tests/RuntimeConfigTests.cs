using Akka.Actor;
using Akka.Configuration;
using TdxSim.Runtime.Configuration;
using TdxSim.Runtime.Deterministic;
using TdxSim.Runtime.Time;

namespace TdxSim.Runtime.Tests;

/// <summary>The one place the Akka configuration comes from: embedded default, user override, mode overlay.</summary>
public sealed class RuntimeConfigTests
{
    [Fact]
    public void The_default_is_embedded_and_keeps_stdout_for_the_guest()
    {
        Config config = RuntimeConfig.Default;
        Assert.Equal("OFF", config.GetString("akka.stdout-loglevel"));
        Assert.Equal("tdxsim.concurrent-dispatcher", config.GetString("tdxsim.dispatcher-id"));
        Assert.Contains("TracingMailbox", config.GetString("akka.actor.default-mailbox.mailbox-type"), StringComparison.Ordinal);
        Assert.Contains(nameof(TdxSim.Runtime.Dispatch.HandoffExecutorConfigurator), config.GetString("tdxsim.concurrent-dispatcher.executor"), StringComparison.Ordinal);
    }

    [Fact]
    public void A_user_override_wins_over_the_default_and_the_mode_wins_over_both()
    {
        Config user = RuntimeConfig.ParseUser("tdxsim.concurrent-dispatcher.throughput = 5\ntdxsim.dispatcher-id = \"x\"", "test");
        Config concurrent = RuntimeConfig.Build(deterministic: false, seed: 0, user);
        Assert.Equal(5, concurrent.GetInt("tdxsim.concurrent-dispatcher.throughput"));
        Assert.Equal("x", concurrent.GetString("tdxsim.dispatcher-id"));

        Config deterministic = RuntimeConfig.Build(deterministic: true, seed: 17, user);
        Assert.Equal("tdxsim.deterministic-dispatcher", deterministic.GetString("tdxsim.dispatcher-id"));
        Assert.Equal(17, deterministic.GetLong("tdxsim.deterministic-dispatcher.seed"));
        Assert.Contains(nameof(VirtualTimeScheduler), deterministic.GetString("akka.scheduler.implementation"), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("akka { actor { ")]
    [InlineData("a = [1, 2")]
    [InlineData("= 3")]
    [InlineData("a = ${missing}")]
    [InlineData("a = \"open")]
    [InlineData("}")]
    [InlineData("a { b = 1 } }")]
    [InlineData("a : : b")]
    public void Malformed_hocon_is_one_line_naming_its_source(string text)
    {
        var e = Assert.Throws<RuntimeConfigException>(() => RuntimeConfig.ParseUser(text, "my.conf"));
        Assert.StartsWith("my.conf: not valid HOCON", e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public void A_missing_file_is_named()
    {
        string path = Path.Combine(Path.GetTempPath(), $"tdxsim-missing-{Guid.NewGuid():N}.conf");
        var e = Assert.Throws<RuntimeConfigException>(() => RuntimeConfig.ParseUserFile(path));
        Assert.Contains(path, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_dispatcher_id_naming_no_dispatcher_is_refused()
    {
        Config user = RuntimeConfig.ParseUser("tdxsim.dispatcher-id = \"no-such-dispatcher\"", "test");
        var e = Assert.Throws<RuntimeConfigException>(() => RuntimeConfig.CreateSystem("bad", RuntimeConfig.Build(false, 0, user)));
        Assert.Contains("no-such-dispatcher", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Contention_timing_is_sampled_in_real_time_only_while_nothing_else_wants_send_times()
    {
        using ActorSystem system = RuntimeConfig.CreateSystem("sampled", RuntimeConfig.Build(deterministic: false, seed: 0));
        TdxRuntime runtime = TdxRuntime.Get(system);
        Assert.Equal(TdxRuntime.DefaultContentionSampleInterval, runtime.ContentionSampleInterval);
        runtime.ContentionWanted = true;
        Assert.Equal(17, runtime.ContentionStride);
        Assert.False(runtime.SendTimesWanted);

        // A log (an observer that reads send times) makes every message stamped and timed again.
        runtime.AddDeliveryObserver(new SendTimeObserver());
        Assert.Equal(0, runtime.ContentionStride);
        Assert.True(runtime.SendTimesWanted);
        runtime.DetachDeliveryObservers();
        Assert.Equal(17, runtime.ContentionStride);

        // Interval 1: exact.
        runtime.ContentionSampleInterval = 1;
        Assert.Equal(0, runtime.ContentionStride);
        Assert.True(runtime.SendTimesWanted);
        await system.Terminate().WaitAsync(TimeSpan.FromSeconds(5));
    }

    [Fact]
    public void A_contention_sample_interval_out_of_range_is_refused()
    {
        Config user = RuntimeConfig.ParseUser("tdxsim.contention-sample-interval = 0", "test");
        var e = Assert.Throws<RuntimeConfigException>(() => RuntimeConfig.CreateSystem("bad-interval", RuntimeConfig.Build(false, 0, user)));
        Assert.Contains("contention-sample-interval", e.Message, StringComparison.Ordinal);
    }

    private sealed class SendTimeObserver : TdxSim.Runtime.Tracing.IDeliveryObserver
    {
        public void OnDelivered(in TdxSim.Runtime.Tracing.Delivery delivery, IActorRef recipient)
        {
        }

        public void OnUndelivered(in TdxSim.Runtime.Tracing.Delivery delivery, IActorRef recipient, TdxSim.Runtime.Tracing.UndeliveredReason reason)
        {
        }
    }

    [Fact]
    public async Task A_concurrent_system_runs_on_real_time_and_the_configured_dispatcher()
    {
        using ActorSystem system = RuntimeConfig.CreateSystem("rt", RuntimeConfig.Build(deterministic: false, seed: 0));
        TdxRuntime runtime = TdxRuntime.Get(system);
        Assert.Null(runtime.VirtualTime);
        Assert.Null(runtime.Deterministic);
        Assert.IsType<MonotonicClock>(runtime.Clock);
        Assert.Equal("tdxsim.concurrent-dispatcher", runtime.DispatcherId);
        Assert.Equal("tdxsim.concurrent-dispatcher", runtime.Configure(Props.Empty).Dispatcher);
        await system.Terminate().WaitAsync(TimeSpan.FromSeconds(5));
    }

    [Fact]
    public async Task A_deterministic_system_has_the_seeded_dispatcher_and_virtual_time()
    {
        using ActorSystem system = RuntimeConfig.CreateSystem("dt", RuntimeConfig.Build(deterministic: true, seed: 9));
        TdxRuntime runtime = TdxRuntime.Get(system);
        Assert.NotNull(runtime.VirtualTime);
        Assert.Equal(9UL, runtime.Deterministic!.Seed);
        Assert.IsNotType<MonotonicClock>(runtime.Clock);
        Assert.Equal(runtime.VirtualTime!.NowNanoseconds, runtime.Clock.NowNanoseconds);
        await system.Terminate().WaitAsync(TimeSpan.FromSeconds(5));
    }

}

/// <summary>Console.Out is the process's: these tests run alone, not beside test classes whose systems log.</summary>
[CollectionDefinition(nameof(StdoutCollection), DisableParallelization = true)]
public sealed class StdoutCollection
{
}

/// <summary>stdout carries only the guest's COM1 bytes.</summary>
[Collection(nameof(StdoutCollection))]
public sealed class StdoutSilenceTests
{
    [Fact]
    public async Task Starting_and_stopping_a_system_writes_nothing_to_stdout()
    {
        TextWriter original = Console.Out;
        using var captured = new StringWriter();
        Console.SetOut(captured);
        try
        {
            using ActorSystem system = RuntimeConfig.CreateSystem("quiet", RuntimeConfig.Build(deterministic: false, seed: 0));
            system.ActorOf(Props.Empty, "x").Tell("unhandled");
            await system.Terminate().WaitAsync(TimeSpan.FromSeconds(5));
        }
        finally
        {
            Console.SetOut(original);
        }

        Assert.Equal(string.Empty, captured.ToString());
    }
}
