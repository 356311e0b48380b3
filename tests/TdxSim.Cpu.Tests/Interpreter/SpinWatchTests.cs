using TdxSim.Abi;
using static Iced.Intel.AssemblerRegisters;

namespace TdxSim.Cpu.Tests.Interpreter;

/// <summary>
/// The spin watch the deterministic mode parks spinning vCPUs on: a probe slice names the pages its loop reads and
/// says whether it changed memory; a watched page fires on a real change only, from the guest or the host.
/// </summary>
public sealed class SpinWatchTests
{
    private const ulong LockGpa = Guest.DataBase;

    // A test-and-set lock loop: XCHG writes 1 each turn, which changes nothing while the lock is taken.
    private static Guest SpinOnTakenLock(uint initialLock)
    {
        var g = new Guest(
            a =>
            {
                var retry = a.CreateLabel();
                var got = a.CreateLabel();
                a.mov(rsi, LockGpa);
                a.Label(ref retry);
                a.mov(eax, 1);
                a.xchg(__dword_ptr[rsi], eax);
                a.test(eax, eax);
                a.jz(got);
                a.pause();
                a.jmp(retry);
                a.Label(ref got);
                a.hlt();
            },
            options: new CpuOptions { PauseExitInterval = 4 });
        g.Write(LockGpa, BitConverter.GetBytes(initialLock));
        return g;
    }

    [Fact]
    public void Probe_OfASpinOnATakenLock_NamesTheLockPage_AndChangesNothing()
    {
        using Guest g = SpinOnTakenLock(1);
        Assert.Equal(CpuExitKind.Pause, g.Run().Kind);
        var snapshot = default(SpinSnapshot);
        g.Cpu.TakeSpinSnapshot(ref snapshot);

        Assert.Equal(CpuExitKind.Pause, g.Cpu.RunProbe(10_000).Kind);
        Assert.False(g.Cpu.SliceChangedMemory);
        Assert.False(g.Cpu.ProbeOverflowed);
        Assert.Equal([LockGpa >> 12], g.Cpu.ProbedPages.ToArray());
        Assert.True(g.Cpu.MatchesSpinSnapshot(ref snapshot));
    }

    [Fact]
    public void Probe_ThatTakesTheLock_ChangedMemory()
    {
        using Guest g = SpinOnTakenLock(0);
        CpuExit exit = g.Cpu.RunProbe(10_000);
        Assert.Equal(VeExitReason.Hlt, exit.Ve.ExitReason);
        Assert.True(g.Cpu.SliceChangedMemory);
        Assert.Equal(1UL, g.Read64(LockGpa) & 0xFFFF_FFFF);
    }

    [Fact]
    public void WatchedPage_FiresOnARealChange_NotOnASilentStore()
    {
        using Guest spinner = SpinOnTakenLock(1);
        var fired = new List<ulong>();
        spinner.Memory.WatchedPageWritten += fired.Add;
        Assert.True(spinner.Memory.Watch(LockGpa >> 12));

        // The spinner's own XCHG writes 1 over 1: the page is the same, the watch stays.
        Assert.Equal(CpuExitKind.Pause, spinner.Run().Kind);
        Assert.Empty(fired);
        Assert.True(spinner.Memory.IsWatched(LockGpa >> 12));

        // The host releases the lock: the watch fires once and is gone; the spinner then takes the lock.
        spinner.Write(LockGpa, BitConverter.GetBytes(0u));
        Assert.Equal([LockGpa >> 12], fired);
        Assert.False(spinner.Memory.IsWatched(LockGpa >> 12));
        spinner.RunToHlt();
    }

    [Fact]
    public void WatchedPage_WrittenByAnotherVcpu_FiresAtTheEndOfItsSlice()
    {
        using Guest spinner = SpinOnTakenLock(1);
        var fired = new List<ulong>();
        spinner.Memory.WatchedPageWritten += fired.Add;
        spinner.Memory.Watch(LockGpa >> 12);

        // A second vCPU on the same memory stores 0 into the lock word (a plain MOV release, as smp-hello does).
        var releaser = new Cpu(spinner.Memory, 1);
        Assert.True(spinner.Memory.TryWritePrivate(0x20000, Images.GuestProgram.Assemble(0x20000, a =>
        {
            a.mov(rsi, LockGpa);
            a.mov(__dword_ptr[rsi], 0);
            a.hlt();
        }).Code));
        releaser.State.Rip = 0x20000;
        Assert.Equal(VeExitReason.Hlt, releaser.Run(100).Ve.ExitReason);
        Assert.Equal([LockGpa >> 12], fired);
        Assert.True(releaser.SliceChangedMemory);
        spinner.RunToHlt();
    }

    [Fact]
    public void CreditSpin_CountsInstructionsPausesAndExits_AndTheTscMoves()
    {
        using Guest g = SpinOnTakenLock(1);
        g.Run();
        ulong retired = g.State.InstructionsRetired, pauses = g.Cpu.PausesRetired, exits = g.Cpu.PauseExits, tsc = g.Cpu.Tsc;
        g.Cpu.CreditSpin(10, 24, 4);
        Assert.Equal(retired + 240, g.State.InstructionsRetired);
        Assert.Equal(pauses + 40, g.Cpu.PausesRetired);
        Assert.Equal(exits + 10, g.Cpu.PauseExits);
        Assert.Equal(240UL, g.Cpu.CreditedInstructions);
        Assert.True(g.Cpu.Tsc > tsc);
    }

    [Fact]
    public void Snapshot_DiffersWhenARegisterDiffers()
    {
        using Guest g = SpinOnTakenLock(1);
        g.Run();
        var snapshot = default(SpinSnapshot);
        Assert.False(g.Cpu.MatchesSpinSnapshot(ref snapshot));
        g.Cpu.TakeSpinSnapshot(ref snapshot);
        Assert.True(g.Cpu.MatchesSpinSnapshot(ref snapshot));
        g[Gpr.Rbx] ^= 1;
        Assert.False(g.Cpu.MatchesSpinSnapshot(ref snapshot));
    }
}
