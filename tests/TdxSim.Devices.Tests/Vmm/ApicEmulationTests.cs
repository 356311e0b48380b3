using TdxSim.Abi;
using TdxSim.Abi.Messages;
using TdxSim.Vmm;

namespace TdxSim.Devices.Tests.Vmm;

/// <summary>
/// The VMM's x2APIC emulation (the registers a TD's accesses exit for): ICR writes become posted interrupts to the
/// destination vCPUs, the timer registers arm the vCPU's host timer in guest TSC, an expiry posts the LVT vector,
/// and HLT does not block a vCPU with a posted interrupt pending.
/// </summary>
public sealed class ApicEmulationTests
{
    private const ulong Icr = 0x830, LvtTimer = 0x832, InitialCount = 0x838, CurrentCount = 0x839, Divide = 0x83E, TscDeadline = 0x6E0;

    private static VmcallOutcome Wrmsr(VmmBed bed, ulong index, ulong value, int vcpu = 0)
    {
        VmcallOutcome o = bed.Call(TdVmcallSubfunction.InstructionWrmsr, index, value, vcpu: vcpu);
        Assert.Equal(VmcallDisposition.Completed, o.Disposition);
        Assert.Equal(TdVmcall.Success, o.Reply!.VmcallStatus);
        return o;
    }

    private static ulong Rdmsr(VmmBed bed, ulong index, int vcpu = 0)
    {
        TdVmcallCompleted r = bed.Complete(TdVmcallSubfunction.InstructionRdmsr, index, vcpu: vcpu);
        Assert.Equal(TdVmcall.Success, r.VmcallStatus);
        return r.Regs[Gpr.R11];
    }

    private static int[] Targets(VmcallOutcome o, byte vector) =>
        [.. o.Events.OfType<PostedInterrupt>().Select(p => { Assert.Equal(vector, p.Vector); return p.Vcpu; })];

    [Fact]
    public void Fixed_ipi_by_physical_id_posts_to_that_vcpu_only()
    {
        var bed = new VmmBed();
        VmcallOutcome o = Wrmsr(bed, Icr, (2UL << 32) | 0xFB, vcpu: 0);
        Assert.Equal([2], Targets(o, 0xFB));
        Assert.Equal(1, bed.Vmm.IpisSent);
        Assert.Equal(0UL, Rdmsr(bed, Icr) & (1UL << 12)); // delivery status idle
    }

    [Theory]
    [InlineData(1, new[] { 1 })]          // self
    [InlineData(2, new[] { 0, 1, 2, 3 })] // all including self
    [InlineData(3, new[] { 0, 2, 3 })]    // all excluding self
    public void Shorthands_pick_their_targets(int shorthand, int[] expected)
    {
        var bed = new VmmBed();
        VmcallOutcome o = Wrmsr(bed, Icr, ((ulong)shorthand << 18) | 0xFD, vcpu: 1);
        Assert.Equal(expected, Targets(o, 0xFD));
    }

    [Fact]
    public void Logical_cluster_destination_posts_to_the_vcpus_in_the_bitmap()
    {
        var bed = new VmmBed();
        VmcallOutcome o = Wrmsr(bed, Icr, (0b0101UL << 32) | (1UL << 11) | 0xF2);
        Assert.Equal([0, 2], Targets(o, 0xF2));
        Assert.Equal(0x1UL, Rdmsr(bed, 0x80D, vcpu: 0) & 0xFFFF); // LDR: cluster 0, bit 0
    }

    [Theory]
    [InlineData(5UL << 8)] // INIT
    [InlineData(6UL << 8)] // SIPI: a TD starts APs by the MP wakeup mailbox
    [InlineData(4UL << 8)] // NMI: not modelled
    public void Non_fixed_delivery_modes_post_nothing(ulong mode)
    {
        var bed = new VmmBed();
        Assert.Empty(Wrmsr(bed, Icr, (1UL << 32) | mode | 0x10).Events.OfType<PostedInterrupt>());
    }

    [Fact]
    public void Tsc_deadline_arms_the_vcpu_timer_and_expiry_posts_the_lvt_vector_once()
    {
        var bed = new VmmBed();
        Wrmsr(bed, LvtTimer, (2UL << 17) | 0xEC, vcpu: 3);
        ArmGuestTimer arm = Assert.Single(Wrmsr(bed, TscDeadline, 123_456, vcpu: 3).Events.OfType<ArmGuestTimer>());
        Assert.Equal((3, 123_456UL, 0UL), (arm.Vcpu, arm.DeadlineTsc, arm.RelativeTicks));
        Assert.True(bed.Vmm.TimerArmed(3));

        PostedInterrupt p = Assert.Single(bed.Vmm.TimerExpired(3, arm.Generation, 123_456).OfType<PostedInterrupt>());
        Assert.Equal((3, (byte)0xEC), (p.Vcpu, p.Vector));
        Assert.False(bed.Vmm.TimerArmed(3));
        Assert.Equal(0UL, Rdmsr(bed, TscDeadline, vcpu: 3)); // the deadline MSR reads 0 after it fired
        Assert.Empty(bed.Vmm.TimerExpired(3, arm.Generation, 123_456)); // a second expiry is stale
        Assert.Equal(1, bed.Vmm.TimerInterruptsPosted);
    }

    [Fact]
    public void Rearming_makes_the_old_expiry_stale_and_zero_disarms()
    {
        var bed = new VmmBed();
        Wrmsr(bed, LvtTimer, (2UL << 17) | 0xEC);
        ArmGuestTimer first = Assert.Single(Wrmsr(bed, TscDeadline, 1000).Events.OfType<ArmGuestTimer>());
        ArmGuestTimer second = Assert.Single(Wrmsr(bed, TscDeadline, 2000).Events.OfType<ArmGuestTimer>());
        Assert.Empty(bed.Vmm.TimerExpired(0, first.Generation, 1000));
        ArmGuestTimer off = Assert.Single(Wrmsr(bed, TscDeadline, 0).Events.OfType<ArmGuestTimer>());
        Assert.True(off.Disarms);
        Assert.Empty(bed.Vmm.TimerExpired(0, second.Generation, 2000));
    }

    [Fact]
    public void One_shot_count_is_scaled_by_the_divider_and_the_crystal_ratio()
    {
        var bed = new VmmBed();
        Wrmsr(bed, LvtTimer, 0xEF);                 // one-shot, unmasked
        Wrmsr(bed, Divide, 0x3);                    // divide by 16
        ArmGuestTimer arm = Assert.Single(Wrmsr(bed, InitialCount, 1000).Events.OfType<ArmGuestTimer>());
        Assert.Equal(1000UL * 16 * 80, arm.RelativeTicks); // 2 GHz TSC over the 25 MHz crystal
        Assert.Equal(1000UL, Rdmsr(bed, CurrentCount));
        Assert.Single(bed.Vmm.TimerExpired(0, arm.Generation, 5_000_000).OfType<PostedInterrupt>());
        Assert.Equal(0UL, Rdmsr(bed, CurrentCount));
    }

    [Fact]
    public void Periodic_timer_rearms_from_its_previous_deadline()
    {
        var bed = new VmmBed();
        Wrmsr(bed, LvtTimer, (1UL << 17) | 0xEF);
        Wrmsr(bed, Divide, 0xB);                    // divide by 1
        ArmGuestTimer arm = Assert.Single(Wrmsr(bed, InitialCount, 10).Events.OfType<ArmGuestTimer>());
        IReadOnlyList<ITdxMessage> fx = bed.Vmm.TimerExpired(0, arm.Generation, 7_000);
        Assert.Single(fx.OfType<PostedInterrupt>());
        ArmGuestTimer next = Assert.Single(fx.OfType<ArmGuestTimer>());
        Assert.Equal(7_000UL + 800, next.DeadlineTsc);
        Assert.True(bed.Vmm.TimerArmed(0));
    }

    [Fact]
    public void Masked_lvt_posts_nothing_on_expiry()
    {
        var bed = new VmmBed();
        Wrmsr(bed, LvtTimer, (2UL << 17) | (1UL << 16) | 0xEC);
        ArmGuestTimer arm = Assert.Single(Wrmsr(bed, TscDeadline, 50).Events.OfType<ArmGuestTimer>());
        Assert.Empty(bed.Vmm.TimerExpired(0, arm.Generation, 50).OfType<PostedInterrupt>());
    }

    [Fact]
    public void Hlt_does_not_block_when_an_interrupt_was_posted_and_blocks_otherwise()
    {
        var bed = new VmmBed();
        Wrmsr(bed, Icr, (1UL << 32) | 0xFB, vcpu: 0);
        Assert.Equal(VmcallDisposition.Completed, bed.Call(TdVmcallSubfunction.InstructionHlt, 0, vcpu: 1).Disposition);
        VmcallOutcome halt = bed.Call(TdVmcallSubfunction.InstructionHlt, 0, vcpu: 1);
        Assert.Equal(VmcallDisposition.Halted, halt.Disposition);
        VcpuHalted h = Assert.Single(halt.Events.OfType<VcpuHalted>());
        Assert.False(h.TimerArmed);
        Assert.False(bed.Vmm.HaltedWithInterruptsBlocked(1));
    }

    [Fact]
    public void Halted_event_says_whether_a_timer_is_armed()
    {
        var bed = new VmmBed();
        Wrmsr(bed, LvtTimer, (2UL << 17) | 0xEC, vcpu: 2);
        Wrmsr(bed, TscDeadline, 99, vcpu: 2);
        VmcallOutcome halt = bed.Call(TdVmcallSubfunction.InstructionHlt, 1, vcpu: 2);
        Assert.True(Assert.Single(halt.Events.OfType<VcpuHalted>()).TimerArmed);
        Assert.True(bed.Vmm.HaltedWithInterruptsBlocked(2));
    }

    [Fact]
    public void Bios_sign_id_reads_zero_and_ignores_writes()
    {
        var bed = new VmmBed();
        Assert.Equal(0UL, Rdmsr(bed, 0x8B));
        Wrmsr(bed, 0x8B, 0x1234_0000_0000);
        Assert.Equal(0UL, Rdmsr(bed, 0x8B));
    }
}
