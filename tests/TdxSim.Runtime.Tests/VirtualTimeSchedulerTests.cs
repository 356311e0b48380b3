using Akka.Actor;
using TdxSim.Runtime.Configuration;
using TdxSim.Runtime.Deterministic;
using TdxSim.Runtime.Time;

namespace TdxSim.Runtime.Tests;

/// <summary>The virtual-time scheduler: time moves only when told, timers fire in due order.</summary>
public sealed class VirtualTimeSchedulerTests : IDisposable
{
    private readonly ActorSystem _system = RuntimeConfig.CreateSystem("vt", RuntimeConfig.Build(deterministic: true, seed: 0));

    private VirtualTimeScheduler Time => TdxRuntime.Get(_system).VirtualTime!;

    private IAdvancedScheduler Actions => ((IScheduler)Time).Advanced;

    public void Dispose() => _system.Terminate().Wait(TimeSpan.FromSeconds(5));

    [Fact]
    public void The_system_scheduler_is_virtual_and_starts_at_zero()
    {
        Assert.Same(_system.Scheduler, Time);
        // The runtime's clock reads virtual time (plus the cost of the handler in progress, none here).
        Assert.Equal(Time.NowNanoseconds, TdxRuntime.Get(_system).Clock.NowNanoseconds);
        Assert.IsNotType<MonotonicClock>(TdxRuntime.Get(_system).Clock);
        long before = Time.NowNanoseconds;
        Thread.Sleep(20);
        Assert.Equal(before, Time.NowNanoseconds);
    }

    [Fact]
    public void Timers_fire_in_due_order_and_ties_in_scheduling_order()
    {
        var fired = new List<string>();
        Actions.ScheduleOnce(TimeSpan.FromMilliseconds(30), () => fired.Add("c"));
        Actions.ScheduleOnce(TimeSpan.FromMilliseconds(10), () => fired.Add("a"));
        Actions.ScheduleOnce(TimeSpan.FromMilliseconds(20), () => fired.Add("b1"));
        Actions.ScheduleOnce(TimeSpan.FromMilliseconds(20), () => fired.Add("b2"));

        Time.Advance(TimeSpan.FromMilliseconds(9));
        Assert.Empty(fired);
        Time.Advance(TimeSpan.FromMilliseconds(11));
        Assert.Equal(["a", "b1", "b2"], fired);
        Assert.Equal(20_000_000, Time.NowNanoseconds);
        Time.Advance(TimeSpan.FromMilliseconds(100));
        Assert.Equal(["a", "b1", "b2", "c"], fired);
        Assert.Equal(120_000_000, Time.NowNanoseconds);
    }

    [Fact]
    public void FireNext_jumps_to_the_earliest_timer_and_reports_none_left()
    {
        var fired = new List<long>();
        Actions.ScheduleOnce(TimeSpan.FromMilliseconds(5), () => fired.Add(Time.NowNanoseconds));
        Assert.True(Time.FireNext());
        Assert.Equal([5_000_000L], fired);
        Assert.False(Time.FireNext());
        Assert.Equal(5_000_000, Time.NowNanoseconds);
    }

    [Fact]
    public void Handler_costs_move_time_without_firing_and_FireDue_catches_up()
    {
        int fired = 0;
        Actions.ScheduleOnce(TimeSpan.FromTicks(10), () => fired++); // 1000 ns
        Time.AdvanceBy(999);
        Assert.False(Time.FireDue());
        Time.AdvanceBy(1);
        Assert.Equal(0, fired);
        Assert.True(Time.FireDue());
        Assert.Equal(1, fired);
        Assert.Throws<ArgumentOutOfRangeException>(() => Time.AdvanceBy(-1));
    }

    [Fact]
    public void Cancelled_timers_never_fire_and_repeating_ones_repeat()
    {
        int once = 0;
        int repeated = 0;
        ICancelable cancel = new Cancelable((IScheduler)Time);
        Actions.ScheduleOnce(TimeSpan.FromMilliseconds(1), () => once++, cancel);
        cancel.Cancel();
        ICancelable repeat = Actions.ScheduleRepeatedlyCancelable(TimeSpan.FromMilliseconds(10), TimeSpan.FromMilliseconds(10), () => repeated++);
        Time.Advance(TimeSpan.FromMilliseconds(45));
        Assert.Equal(0, once);
        Assert.Equal(4, repeated);
        repeat.Cancel();
        Time.Advance(TimeSpan.FromMilliseconds(100));
        Assert.Equal(4, repeated);
        Assert.Equal(0, Time.PendingTimers);
    }

    [Fact]
    public void Akkas_monotonic_clock_reads_virtual_time()
    {
        Time.Advance(TimeSpan.FromSeconds(3));
        Assert.Equal(TimeSpan.FromSeconds(3), Time.MonotonicClock);
    }
}
