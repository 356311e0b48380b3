using TdxSim.Machine.Logging;
using TdxSim.Machine.Scenarios;
using TdxSim.Machine.Stress;

namespace TdxSim.Machine.Tests.Logging;

/// <summary>
/// The machine's actor system takes send times only for observers that read them: a logged run has every send
/// time (the trace's slices start there), a stress run's counter does not ask for them.
/// </summary>
public sealed class MachineSendTimeTests
{
    [Fact]
    public void LoggedRun_EveryRecordHasASendTime_NoLaterThanItsDelivery()
    {
        var memory = new MemoryLogSink();
        var recorder = new MessageRecorder([memory]);
        var scenario = new Scenario
        {
            Name = "demo",
            Guest = GuestSource.FromBuiltIn("demo"),
            Vcpus = 1,
            Memory = Scenario.DefaultMemory,
        };
        using var com1 = new MemoryStream();

        MachineResult result = TdMachine.Run(scenario, new MachineIo(com1, [recorder]));
        MessageLogReport report = recorder.Complete();

        Assert.Equal(1, result.ExitStatus);
        Assert.True(report.IsLossless, report.ToString());
        Assert.True(memory.Records.Count > 1000, $"{memory.Records.Count} records");
        Assert.All(memory.Records, r => Assert.InRange(r.SentAtNs, 0, r.TimeNs));
    }

    [Fact]
    public void MessageCounter_DoesNotAskForSendTimes()
    {
        Runtime.Tracing.IDeliveryObserver counter = new MessageCounter();
        Assert.False(counter.WantsSendTimes);
        var recorder = new MessageRecorder([new MemoryLogSink()]);
        Assert.True(((Runtime.Tracing.IDeliveryObserver)recorder).WantsSendTimes);
        Assert.True(recorder.Complete().IsLossless);
    }
}
