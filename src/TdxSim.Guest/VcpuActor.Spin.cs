using TdxSim.Cpu;
using TdxSim.Guest.Spin;

namespace TdxSim.Guest;

/// <summary>
/// The deterministic mode's fast-forward of spin loops. A vCPU waiting for a lock runs slice after slice of the
/// same loop, each ending in a pause-loop exit; at 256 vCPUs that is most of a run's work and none of its events. When
/// two pause slices in a row end with the registers they started with, in the same virtual time, the next slice runs
/// as a probe (<see cref="Cpu.Cpu.RunProbe"/>): if it also changes no memory, every further slice is the same until one
/// of the pages it read changes. The vCPU then parks: it schedules nothing, its pages are watched
/// (<see cref="SpinWatchers"/>), and when one changes, or any message reaches it, or its horizon passes, it counts the
/// slices it would have run up to then (<see cref="Cpu.Cpu.CreditSpin"/>: instructions, PAUSEs and pause exits, so the
/// TSC, the statistics and the limits see them) and runs again. What it skipped could not have observed anything, so
/// the run goes as it would have, up to where in its last skipped slice the change lands; and it stays deterministic.
/// </summary>
public sealed partial class VcpuActor
{
    /// <summary>The most slices one park skips before the vCPU looks again (about 70 ms of virtual time at the default costs).</summary>
    internal const int MaxParkedSlices = 1 << 16;

    private SpinSnapshot _spinSnapshot;
    private int _spinRepeats;
    private long _spinLastStart = -1;
    private long _spinPeriod;
    private ulong _spinInstructions;
    private ulong _spinPauses;
    private bool _spinProbeNext;
    private bool _parked;
    private long _parkNextStart;
    private int _parkGeneration;
    private ulong[] _parkPages = [];

    /// <summary>Runs a slice, as a probe when the last ones looked like a pure spin.</summary>
    private CpuExit RunSlicePossiblyProbing(ulong budget, out bool probed)
    {
        probed = _spinProbeNext;
        _spinProbeNext = false;
        return probed ? _cpu.RunProbe(budget) : _cpu.Run(budget);
    }

    /// <summary>
    /// After a slice that ended in a pause-loop exit: true when the vCPU parked (nothing is scheduled; a watch, a
    /// message or the horizon resumes it), false to go on as usual.
    /// </summary>
    private bool ParkIfSpinning(bool probed, ulong instructions, ulong pauses)
    {
        if (_setup.SpinWatch is null)
        {
            return false;
        }

        long start = HandlingStartNs;
        long period = _spinLastStart >= 0 && start > _spinLastStart ? start - _spinLastStart : -1;
        bool sameTurn = _cpu.MatchesSpinSnapshot(ref _spinSnapshot) && instructions == _spinInstructions && pauses == _spinPauses
            && instructions > 0;
        if (probed)
        {
            if (sameTurn && !_cpu.SliceChangedMemory && !_cpu.ProbeOverflowed && _cpu.ProbedPages.Length > 0
                && _spinPeriod > 0 && (period < 0 || period == _spinPeriod) && TryPark(start + _spinPeriod))
            {
                return true;
            }

            _spinRepeats = 0;
        }
        else if (sameTurn && period > 0 && period == _spinPeriod)
        {
            _spinProbeNext = ++_spinRepeats >= 2;
        }
        else
        {
            _spinRepeats = 0;
        }

        if (period > 0)
        {
            _spinPeriod = period;
        }

        _spinLastStart = start;
        _spinInstructions = instructions;
        _spinPauses = pauses;
        _cpu.TakeSpinSnapshot(ref _spinSnapshot);
        return false;
    }

    /// <summary>Any exit but a pause: whatever the loop was, it is not spinning now.</summary>
    private void ForgetSpin()
    {
        _spinRepeats = 0;
        _spinProbeNext = false;
        _spinLastStart = -1;
        _spinSnapshot.Clear();
    }

    private bool TryPark(long nextStart)
    {
        // A timer due, the host holding the vCPU or a TD time base (Linux) make time matter while it would be parked.
        if (_timerDeadline != 0 || _heldByHost || _setup.Timebase is not null)
        {
            return false;
        }

        long horizon = MaxParkedSlices;
        if (_setup.MaxInstructions is ulong max)
        {
            // Never skip past the instruction limit: the slice that reaches it runs for real.
            ulong room = (max - Math.Min(max, _cpu.State.InstructionsRetired)) / _spinInstructions;
            horizon = (long)Math.Min((ulong)horizon, room > 0 ? room - 1 : 0);
        }

        if (horizon < 1)
        {
            return false;
        }

        _parked = true;
        _parkGeneration++;
        _parkNextStart = nextStart;
        _parkPages = _cpu.ProbedPages.ToArray();
        _setup.SpinWatch!.Park(Self, _parkGeneration, _parkPages);
        long delayNs = Math.Max(0, nextStart + (horizon * _spinPeriod) - TransitNs - HandlingStartNs);
        Context.System.Scheduler.ScheduleTellOnce(TimeSpan.FromTicks(Math.Max(1, delayNs / 100)), Self, new SpinHorizon(_parkGeneration), Self);
        return true;
    }

    /// <summary>
    /// Ends a park, if there is one: counts the slices that would have started by now and schedules the next one. A
    /// handler of any message calls it first, so the vCPU handles it in the state it would have had.
    /// </summary>
    private void Unpark()
    {
        if (!_parked)
        {
            return;
        }

        _parked = false;
        _setup.SpinWatch!.Forget(Self, _parkPages);
        long now = HandlingStartNs;
        ulong slices = now < _parkNextStart ? 0 : (ulong)((now - _parkNextStart) / _spinPeriod) + 1;
        _cpu.CreditSpin(slices, _spinInstructions, _spinPauses);
        _stats.CountSpinSlicesSkipped(slices);

        // The loop may see something new now: its next slice probes again, so an unchanged spin parks at once.
        _spinLastStart = -1;
        _spinProbeNext = true;
        if (_mode == Mode.Running)
        {
            Self.Tell(RunSlice, Self);
        }
    }

    private void OnSpinWatchFired(SpinWatchFired fired)
    {
        if (_parked && fired.Generation == _parkGeneration)
        {
            Unpark();
        }
    }

    private void OnSpinHorizon(SpinHorizon horizon)
    {
        if (_parked && horizon.Generation == _parkGeneration)
        {
            Unpark();
        }
    }
}
