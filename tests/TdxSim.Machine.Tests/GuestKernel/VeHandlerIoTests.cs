using TdxSim.Abi;
using TdxSim.Cpu;
using TdxSim.Guest.Kernel;

namespace TdxSim.Machine.Tests.GuestKernel;

/// <summary>
/// I/O #VEs (reference 3.4, 3.6): the Instruction.IO TDVMCALL built from the exit qualification, IN merged into RAX per
/// size, and string I/O refused or unrolled element by element.
/// </summary>
public sealed class VeHandlerIoTests
{
    private const ulong Rip = KernelBench.CodeGpa;
    private const ulong Data = KernelBench.DataGpa;
    private const ulong Pattern = 0x1122_3344_5566_7788;
    private const ushort Com1 = 0x3F8;

    private static KernelBench Unrolling() => new(new GuestKernelOptions { UnrollStringIo = true });

    [Theory]
    [InlineData(1, 0x88UL)]
    [InlineData(2, 0x7788UL)]
    [InlineData(4, 0x5566_7788UL)]
    public void Out_SendsTheLowBytesOfRaxForTheSize(int size, ulong value)
    {
        using var bench = new KernelBench();
        bench.Cpu.Gpr[Gpr.Rax] = Pattern;

        KernelStep step = bench.DeliverIo(size, input: false, Com1, length: 1);
        bench.AssertVmcall(step, TdVmcallSubfunction.InstructionIo, r12: (ulong)size, r13: TdVmcall.IoDirectionOut, r14: Com1, r15: value);
        bench.AssertResumed(bench.CompleteVmcall(), Rip, 1);
        Assert.Equal(Pattern, bench.Cpu.Gpr[Gpr.Rax]);
    }

    [Theory]
    [InlineData(1, 0x1122_3344_5566_77ABUL)]
    [InlineData(2, 0x1122_3344_5566_90ABUL)]
    [InlineData(4, 0x0000_0000_CDEF_90ABUL)]
    public void In_OneAndTwoBytesMergeIntoRax_FourBytesZeroExtend_BitsAboveTheSizeFromTheVmmAreDropped(int size, ulong expected)
    {
        using var bench = new KernelBench();
        bench.Cpu.Gpr[Gpr.Rax] = Pattern;

        KernelStep step = bench.DeliverIo(size, input: true, 0xCFC, length: 2);
        bench.AssertVmcall(step, TdVmcallSubfunction.InstructionIo, r12: (ulong)size, r13: TdVmcall.IoDirectionIn, r14: 0xCFC);
        bench.AssertResumed(bench.CompleteVmcall(r11: 0xFFFF_FFFF_CDEF_90AB), Rip, 2);

        Assert.Equal(expected, bench.Cpu.Gpr[Gpr.Rax]);
    }

    [Theory]
    [InlineData(1, 0x1122_3344_5566_7700UL)]
    [InlineData(2, 0x1122_3344_5566_0000UL)]
    [InlineData(4, 0UL)]
    public void In_TheVmmFails_ClearsTheDestinationBitsThenIsFatal(int size, ulong expected)
    {
        using var bench = new KernelBench();
        bench.Cpu.Gpr[Gpr.Rax] = Pattern;
        bench.DeliverIo(size, input: true, Com1, length: 1);

        KernelStep step = bench.CompleteVmcall(r10: TdVmcall.InvalidOperand, r11: 0x5555);

        bench.AssertFatal(step, $"IN port 0x3f8 size {size} failed: TDG.VP.VMCALL_INVALID_OPERAND", Rip);
        Assert.Equal(expected, bench.Cpu.Gpr[Gpr.Rax]);
    }

    [Fact]
    public void Out_TheVmmFails_IsFatal()
    {
        using var bench = new KernelBench();
        bench.DeliverIo(1, input: false, 0xF4, length: 2);

        bench.AssertFatal(bench.CompleteVmcall(r10: TdVmcall.InvalidOperand), "OUT port 0xf4 size 1 failed", Rip);
    }

    [Theory]
    [InlineData(false, "OUTS port 0x3f8")]
    [InlineData(true, "INS port 0x3f8")]
    public void StringIo_WithoutUnrolling_IsRefusedWithoutAnyVmcall(bool input, string named)
    {
        using var bench = new KernelBench();

        KernelStep step = bench.DeliverIo(1, input, Com1, length: 2, isString: true, rep: true);

        bench.AssertFatal(step, $"string I/O ({named}) is not supported in a TDX guest", Rip);
    }

    [Theory]
    [InlineData(false, "abc")]
    [InlineData(true, "cba")]
    public void RepOutsb_Unrolled_OneVmcallPerElementInDirectionFlagOrder(bool backwards, string expected)
    {
        using var bench = Unrolling();
        Assert.True(bench.Memory.TryWritePrivate(Data, "abc"u8));
        bench.Cpu.Gpr[Gpr.Rsi] = backwards ? Data + 2 : Data;
        bench.Cpu.Gpr[Gpr.Rcx] = 3;
        if (backwards)
        {
            bench.Cpu.Rflags |= Rflags.Df;
        }

        KernelStep step = bench.DeliverIo(1, input: false, Com1, length: 2, isString: true, rep: true);
        for (int i = 0; i < 3; i++)
        {
            bench.AssertVmcall(step, TdVmcallSubfunction.InstructionIo, r12: 1, r13: TdVmcall.IoDirectionOut, r14: Com1, r15: expected[i]);
            Assert.Equal(Rip, bench.Cpu.Rip); // RIP moves once, after the last element
            step = bench.CompleteVmcall();
            Assert.Equal(2UL - (ulong)i, bench.Cpu.Gpr[Gpr.Rcx]);
        }

        bench.AssertResumed(step, Rip, 2);
        Assert.Equal(backwards ? Data - 1 : Data + 3, bench.Cpu.Gpr[Gpr.Rsi]);
    }

    [Fact]
    public void Unrolled_EachElementCountsAsARetiredInstruction_AndTheHandlerSaysItIsBetweenElements()
    {
        using var bench = Unrolling();
        Assert.True(bench.Memory.TryWritePrivate(Data, "abc"u8));
        bench.Cpu.Gpr[Gpr.Rsi] = Data;
        bench.Cpu.Gpr[Gpr.Rcx] = 3;
        bench.Cpu.InstructionsRetired = 100;

        KernelStep step = bench.DeliverIo(1, input: false, Com1, length: 2, isString: true, rep: true);
        for (int i = 0; i < 3; i++)
        {
            Assert.True(bench.Handler.IsUnrollingStringIo);
            Assert.Equal(100UL + (ulong)i, bench.Cpu.InstructionsRetired);
            step = bench.CompleteVmcall();
        }

        bench.AssertResumed(step, Rip, 2);
        Assert.Equal(103UL, bench.Cpu.InstructionsRetired);
        Assert.False(bench.Handler.IsUnrollingStringIo);
    }

    [Fact]
    public void RepOutsd_Unrolled_SendsFourByteElementsAndStepsRsiByFour()
    {
        using var bench = Unrolling();
        Assert.True(bench.Memory.TryWritePrivate(Data, BitConverter.GetBytes(0x8877_6655_4433_2211UL)));
        bench.Cpu.Gpr[Gpr.Rsi] = Data;
        bench.Cpu.Gpr[Gpr.Rcx] = 2;

        KernelStep step = bench.DeliverIo(4, input: false, 0x31, length: 2, isString: true, rep: true);
        bench.AssertVmcall(step, TdVmcallSubfunction.InstructionIo, r12: 4, r13: TdVmcall.IoDirectionOut, r14: 0x31, r15: 0x4433_2211);
        step = bench.CompleteVmcall();
        bench.AssertVmcall(step, TdVmcallSubfunction.InstructionIo, r12: 4, r13: TdVmcall.IoDirectionOut, r14: 0x31, r15: 0x8877_6655);
        bench.AssertResumed(bench.CompleteVmcall(), Rip, 2);
        Assert.Equal(Data + 8, bench.Cpu.Gpr[Gpr.Rsi]);
    }

    [Theory]
    [InlineData(false, Data, Data + 4, new byte[] { 0x34, 0x12, 0xCD, 0xAB })]
    [InlineData(true, Data + 2, Data - 2, new byte[] { 0xCD, 0xAB, 0x34, 0x12 })]
    public void RepInsw_Unrolled_StoresOnlyTheElementSizeOfEachAnswerInDirectionFlagOrder(bool backwards, ulong start, ulong end, byte[] expected)
    {
        using var bench = Unrolling();
        bench.Cpu.Gpr[Gpr.Rdi] = start;
        bench.Cpu.Gpr[Gpr.Rcx] = 2;
        if (backwards)
        {
            bench.Cpu.Rflags |= Rflags.Df;
        }

        KernelStep step = bench.DeliverIo(2, input: true, 0xCFC, length: 3, isString: true, rep: true);
        bench.AssertVmcall(step, TdVmcallSubfunction.InstructionIo, r12: 2, r13: TdVmcall.IoDirectionIn, r14: 0xCFC);
        step = bench.CompleteVmcall(r11: 0xFFFF_1234);
        bench.AssertVmcall(step, TdVmcallSubfunction.InstructionIo, r12: 2, r13: TdVmcall.IoDirectionIn, r14: 0xCFC);
        bench.AssertResumed(bench.CompleteVmcall(r11: 0xFFFF_ABCD), Rip, 3);

        byte[] stored = new byte[6];
        Assert.True(bench.Memory.TryReadPrivate(Data - 2, stored));
        Assert.Equal([0, 0, .. expected], stored);
        Assert.Equal(end, bench.Cpu.Gpr[Gpr.Rdi]);
        Assert.Equal(0UL, bench.Cpu.Gpr[Gpr.Rcx]);
    }

    [Fact]
    public void RepStringIo_WithRcxZero_ResumesAfterTheInstructionWithoutAnyVmcall()
    {
        using var bench = Unrolling();
        bench.Cpu.Gpr[Gpr.Rsi] = Data;

        KernelStep step = bench.DeliverIo(1, input: false, Com1, length: 2, isString: true, rep: true);

        bench.AssertResumed(step, Rip, 2);
        Assert.Equal(Data, bench.Cpu.Gpr[Gpr.Rsi]);
    }

    [Fact]
    public void Outsb_WithoutRep_SendsOneElementAndLeavesRcx()
    {
        using var bench = Unrolling();
        Assert.True(bench.Memory.TryWritePrivate(Data, "z"u8));
        bench.Cpu.Gpr[Gpr.Rsi] = Data;
        bench.Cpu.Gpr[Gpr.Rcx] = 5;

        KernelStep step = bench.DeliverIo(1, input: false, Com1, length: 1, isString: true);
        bench.AssertVmcall(step, TdVmcallSubfunction.InstructionIo, r12: 1, r13: TdVmcall.IoDirectionOut, r14: Com1, r15: 'z');
        bench.AssertResumed(bench.CompleteVmcall(), Rip, 1);

        Assert.Equal(5UL, bench.Cpu.Gpr[Gpr.Rcx]);
        Assert.Equal(Data + 1, bench.Cpu.Gpr[Gpr.Rsi]);
    }

    [Fact]
    public void RepOutsb_FailingMidway_IsFatalWithTheCompletedElementsAccountedFor()
    {
        using var bench = Unrolling();
        Assert.True(bench.Memory.TryWritePrivate(Data, "abc"u8));
        bench.Cpu.Gpr[Gpr.Rsi] = Data;
        bench.Cpu.Gpr[Gpr.Rcx] = 3;
        bench.DeliverIo(1, input: false, Com1, length: 2, isString: true, rep: true);
        bench.CompleteVmcall();

        KernelStep step = bench.CompleteVmcall(r10: TdVmcall.InvalidOperand);

        bench.AssertFatal(step, "OUTS port 0x3f8 size 1 failed", Rip);
        Assert.Equal(2UL, bench.Cpu.Gpr[Gpr.Rcx]);
        Assert.Equal(Data + 1, bench.Cpu.Gpr[Gpr.Rsi]);
    }

    [Fact]
    public void Outs_FromMemoryTheGuestCannotRead_IsFatal()
    {
        using var bench = Unrolling();
        bench.Cpu.Gpr[Gpr.Rsi] = 0x4000_0000;
        bench.Cpu.Gpr[Gpr.Rcx] = 1;

        KernelStep step = bench.DeliverIo(1, input: false, Com1, length: 2, isString: true, rep: true);

        bench.AssertFatal(step, "OUTS: source 0x40000000 is not accessible guest memory", Rip);
    }

    [Fact]
    public void Ins_IntoMemoryTheGuestCannotWrite_IsFatal()
    {
        using var bench = Unrolling();
        bench.Cpu.Gpr[Gpr.Rdi] = 0x4000_0000;
        bench.DeliverIo(1, input: true, Com1, length: 1, isString: true);

        bench.AssertFatal(bench.CompleteVmcall(r11: 1), "INS: destination 0x40000000 is not accessible guest memory", Rip);
    }
}
