using Iced.Intel;
using TdxSim.Abi;
using TdxSim.Images;
using TdxSim.Images.Guests;
using TdxSim.Machine.Tests.Guests;
using static Iced.Intel.AssemblerRegisters;

namespace TdxSim.Machine.Tests.EndToEnd;

/// <summary>
/// Port I/O through a whole TD, by #VE (IN/OUT/INS/OUTS emulated by the guest kernel with
/// TDG.VP.VMCALL&lt;Instruction.IO&gt;) and by paravirt TDVMCALLs, including every error path.
/// </summary>
public sealed class PortIoTests
{
    private const ulong Pattern = 0x1122_3344_5566_7788;

    [Fact]
    public void Uart_PrintedByVeAndByParavirt_CarriesExactlyTheBytesAndTheSameDeviceAccesses()
    {
        TdRun run = TdRunner.Run(b =>
        {
            Assembler a = b.Asm;
            var strings = new StringPool(a);
            Label fail = a.CreateLabel();
            var ve = new GuestIo(a, IoPath.Ve, fail);
            var pv = new GuestIo(a, IoPath.Paravirt, fail);
            ve.Print(strings, "by #VE: hi\n");
            pv.Print(strings, "by TDCALL: hi\n");
            a.Success();
            a.Label(ref fail);
            a.DebugExit(0x7F);
            ve.EmitRoutines();
            pv.EmitRoutines();
            strings.Emit();
        }).AssertExit(0, "selftest-success");

        Assert.Equal("by #VE: hi\nby TDCALL: hi\n", run.Com1);

        // putc polls LSR once (THRE is always set) and writes THR: one read and one write per byte on both paths.
        Assert.Equal(25, run.Counter("device.com1.writes"));
        Assert.Equal(25, run.Counter("device.com1.reads"));
        Assert.Equal(2 * 11, run.Counter("vcpu0.ve.IO_INSTRUCTION"));
        Assert.Equal((2 * 25) + 1, run.Counter("vmm.tdvmcall.Instruction.IO.SUCCESS"));
    }

    [Fact]
    public void PostCodePort_WrittenByVeAndByParavirt_CountsBothWrites()
    {
        TdRun run = TdRunner.Run(b =>
        {
            Assembler a = b.Asm;
            a.mov(al, 0x11);
            a.@out(0x80, al);
            a.Tdvmcall(TdVmcallSubfunction.InstructionIo, 1, TdVmcall.IoDirectionOut, 0x80, 0x22);
            a.Success();
        }).AssertExit(0);

        Assert.Equal(2, run.Counter("vmm.post_codes"));
        Assert.Equal(2, run.Counter("device.post.writes"));
        Assert.Empty(run.Com1Bytes);
    }

    [Fact]
    public void UartScratchRegister_WrittenOnOnePathAndReadOnTheOther_HoldsTheValue()
    {
        TdRun run = TdRunner.Run(b =>
        {
            Assembler a = b.Asm;
            a.mov(dx, GuestAsm.UartScratch);
            a.mov(al, 0x5A);
            a.@out(dx, al);
            a.Tdvmcall(TdVmcallSubfunction.InstructionIo, 1, TdVmcall.IoDirectionIn, GuestAsm.UartScratch);
            a.Report(r11);
            a.Tdvmcall(TdVmcallSubfunction.InstructionIo, 1, TdVmcall.IoDirectionOut, GuestAsm.UartScratch, 0xA5);
            a.mov(dx, GuestAsm.UartScratch);
            a.xor(eax, eax);
            a.@in(al, dx);
            a.Report(rax);
            a.Success();
        }).AssertExit(0);

        Assert.Equal([0x5AUL, 0xA5UL], run.Reports);
    }

    [Fact]
    public void In_ByVe_OneAndTwoByteReadsKeepTheUpperBitsOfRax_FourByteReadsZeroExtend()
    {
        TdRun run = TdRunner.Run(b =>
        {
            Assembler a = b.Asm;

            // PCI CONFIG_ADDRESS = 00:00.0 register 0, so CONFIG_DATA reads vendor 0x8086, device 0x29C0.
            a.mov(dx, 0xCF8);
            a.mov(eax, 0x8000_0000);
            a.@out(dx, eax);
            foreach (ushort port in new ushort[] { 0xCFC, 0x500 })
            {
                a.mov(dx, port);
                a.mov(rax, Pattern);
                a.@in(al, dx);
                a.Report64(rax);
                a.mov(rax, Pattern);
                a.@in(ax, dx);
                a.Report64(rax);
                a.mov(rax, Pattern);
                a.@in(eax, dx);
                a.Report64(rax);
            }

            a.Success();
        }).AssertExit(0);

        Assert.Equal(
            [
                0x1122_3344_5566_7786UL, 0x1122_3344_5566_8086UL, 0x29C0_8086UL, // PCI configuration data
                0x1122_3344_5566_77FFUL, 0x1122_3344_5566_FFFFUL, 0xFFFF_FFFFUL,  // an unclaimed port reads all ones
            ],
            run.Reports64);
        Assert.Equal(7, run.Counter("vcpu0.ve.IO_INSTRUCTION"));
    }

    [Fact]
    public void In_ByParavirt_ReturnsTheValueZeroExtendedFromTheAccessSizeInR11()
    {
        TdRun run = TdRunner.Run(b =>
        {
            Assembler a = b.Asm;
            a.Tdvmcall(TdVmcallSubfunction.InstructionIo, 4, TdVmcall.IoDirectionOut, 0xCF8, 0x8000_0000);
            foreach (ulong size in new ulong[] { 1, 2, 4 })
            {
                a.mov(r11, Pattern);
                a.Tdvmcall(TdVmcallSubfunction.InstructionIo, size, TdVmcall.IoDirectionIn, 0xCFC, Pattern);
                a.Report64(r11);
                a.Report64(r10);
            }

            a.Success();
        }).AssertExit(0);

        Assert.Equal([0x86UL, 0, 0x8086UL, 0, 0x29C0_8086UL, 0], run.Reports64);
        Assert.Equal(0, run.Counter("vcpu0.ve.IO_INSTRUCTION"));
    }

    [Theory]
    [InlineData(IoPath.Ve, 0, 1)]
    [InlineData(IoPath.Ve, 0x42, 0x85)]
    [InlineData(IoPath.Paravirt, 1, 3)]
    [InlineData(IoPath.Paravirt, 0xFF, 0x1FF)]
    public void DebugExitPort_ByteV_EndsTheTdWithStatusVShiftedLeftOrOne(IoPath path, byte value, int status)
    {
        TdRun run = TdRunner.Run(b =>
        {
            Assembler a = b.Asm;
            if (path == IoPath.Ve)
            {
                a.DebugExit(value);
            }
            else
            {
                a.Tdvmcall(TdVmcallSubfunction.InstructionIo, 1, TdVmcall.IoDirectionOut, GuestAsm.DebugExitPort, value);
                a.HaltForever();
            }
        });

        run.AssertExit(status, "debug-exit");
        Assert.Contains($"0x{value:x2}", run.Result.Detail, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(3UL, 1UL, 0x3F8UL)]
    [InlineData(0UL, 1UL, 0x3F8UL)]
    [InlineData(8UL, 1UL, 0x3F8UL)]
    [InlineData(1UL, 2UL, 0x3F8UL)]
    [InlineData(1UL, 1UL, 0x1_03F8UL)]
    public void TdvmcallIo_MalformedSizeDirectionOrPort_ReturnsInvalidOperandInR10AndTouchesNoDevice(ulong size, ulong direction, ulong port)
    {
        TdRun run = TdRunner.Run(b =>
        {
            Assembler a = b.Asm;
            a.Tdvmcall(TdVmcallSubfunction.InstructionIo, size, direction, port, 'X');
            a.Report64(rax);
            a.Report64(r10);
            a.Success();
        }).AssertExit(0);

        Assert.Equal([TdxStatus.Success, TdVmcall.InvalidOperand], run.Reports64);
        Assert.Empty(run.Com1Bytes);
        Assert.Equal(0, run.Counter("device.com1.writes"));
        Assert.Equal(1, run.Counter("vmm.tdvmcall.Instruction.IO.INVALID_OPERAND"));
    }

    [Theory]
    [InlineData(false, "f36e")]
    [InlineData(true, "f36c")]
    public void StringIo_WithoutUnrolling_IsGuestFatalNamingTheVcpuRipAndBytes(bool input, string bytes)
    {
        GuestProgram program = TdRunner.Assemble(b =>
        {
            Assembler a = b.Asm;
            a.mov(rsi, GuestAsm.DataPage);
            a.mov(rdi, GuestAsm.DataPage);
            a.mov(ecx, 3);
            a.mov(dx, GuestAsm.Com1);
            b.Define("string_io");
            if (input)
            {
                a.rep.insb();
            }
            else
            {
                a.rep.outsb();
            }

            a.Success();
        });

        TdRun run = TdRunner.Run(program).AssertExit(4, "guest-fatal");

        string detail = run.Result.Detail;
        Assert.Contains("vCPU 0", detail, StringComparison.Ordinal);
        Assert.Contains($"RIP 0x{program["string_io"]:x}", detail, StringComparison.Ordinal);
        Assert.Contains($"bytes {bytes}", detail, StringComparison.Ordinal);
        Assert.Contains("string I/O", detail, StringComparison.Ordinal);
        Assert.Empty(run.Com1Bytes);
        Assert.Equal("fatal", run.Result.Vcpus[0].State);
    }

    [Theory]
    [InlineData(false, "unrolled\n")]
    [InlineData(true, "\ndellornu")]
    public void RepOutsb_WithUnrolling_SendsEachByteInDirectionFlagOrder(bool backwards, string expected)
    {
        TdRun run = TdRunner.Run(
            b =>
            {
                Assembler a = b.Asm;
                Label text = a.CreateLabel();
                if (backwards)
                {
                    a.std();
                    a.lea(rsi, __[text]);
                    a.add(rsi, 8);
                }
                else
                {
                    a.lea(rsi, __[text]);
                }

                a.mov(ecx, 9);
                a.mov(dx, GuestAsm.Com1);
                a.rep.outsb();
                a.cld();
                a.lea(rax, __[text]);
                a.sub(rsi, rax);
                a.Report(rcx);
                a.Report(rsi);
                a.Success();
                a.Label(ref text);
                a.db("unrolled\n"u8.ToArray());
            },
            s => s with { UnrollStringIo = true }).AssertExit(0);

        Assert.Equal(expected, run.Com1);
        Assert.Equal([0UL, backwards ? 0xFFFF_FFFFUL : 9UL], run.Reports); // RSI ends one element past the last (text - 1 backwards)
        Assert.Equal(1, run.Counter("vcpu0.ve.IO_INSTRUCTION"));
        Assert.Equal(9 + 3, run.Counter("vmm.tdvmcall.Instruction.IO.SUCCESS")); // 9 elements, 2 reports, success
    }

    [Fact]
    public void RepIns_WithUnrolling_StoresEachElementForwardsAndBackwards()
    {
        TdRun run = TdRunner.Run(
            b =>
            {
                Assembler a = b.Asm;
                Label buffer = a.CreateLabel();
                a.mov(dx, GuestAsm.UartScratch);
                a.mov(al, 0x42);
                a.@out(dx, al);

                // REP INSB of the UART scratch register, four times, forwards.
                a.lea(rdi, __[buffer]);
                a.mov(ecx, 4);
                a.rep.insb();
                a.mov(rax, __qword_ptr[buffer]);
                a.Report64(rax);

                // REP INSW of PCI CONFIG_DATA (vendor 0x8086), twice, backwards from buffer + 12.
                a.mov(dx, 0xCF8);
                a.mov(eax, 0x8000_0000);
                a.@out(dx, eax);
                a.mov(dx, 0xCFC);
                a.std();
                a.lea(rdi, __[buffer]);
                a.add(rdi, 12);
                a.mov(ecx, 2);
                a.rep.insw();
                a.cld();
                a.lea(rax, __[buffer]);
                a.mov(rax, __qword_ptr[rax + 8]);
                a.Report64(rax);
                a.lea(rax, __[buffer]);
                a.sub(rdi, rax);
                a.Report(rdi);
                a.Report(rcx);
                a.Success();
                a.Label(ref buffer);
                a.db(new byte[16]);
            },
            s => s with { UnrollStringIo = true }).AssertExit(0);

        // Backwards: words land at buffer + 12 and buffer + 10, and RDI ends at buffer + 8.
        Assert.Equal([0x4242_4242UL, 0, 0x8086_0000UL, 0x8086UL, 8UL, 0], run.Reports);
    }

    [Fact]
    public void RepOutsb_WithUnrollingAndRcxZero_SendsNothingAndResumesAfterTheInstruction()
    {
        TdRun run = TdRunner.Run(
            b =>
            {
                Assembler a = b.Asm;
                a.mov(rsi, GuestAsm.Origin);
                a.xor(ecx, ecx);
                a.mov(dx, GuestAsm.Com1);
                a.rep.outsb();
                a.Report(rsi);
                a.Success();
            },
            s => s with { UnrollStringIo = true }).AssertExit(0);

        Assert.Empty(run.Com1Bytes);
        Assert.Equal([GuestAsm.Origin], run.Reports);
    }

    [Fact]
    public void UnrolledRepIns_IsBoundedByTheInstructionLimit_StoppingBetweenElements()
    {
        // Ten million elements, one TDVMCALL each: without counting elements, one instruction would run unbounded by
        // max_instructions. Each element counts, so the vCPU stops at an element boundary (RIP on the REP INSB).
        TdRun run = TdRunner.Run(
            b =>
            {
                Assembler a = b.Asm;
                a.mov(edi, 0x30_0000);
                a.mov(ecx, 10_000_000);
                a.mov(edx, 0x80);
                a.rep.insb();
                a.Success();
            },
            s => s with { UnrollStringIo = true, MaxInstructions = 2_000 });

        run.AssertExit(ExitStatus.LimitReached, "instruction-limit");
        VcpuFinalState v = run.Result.Vcpus[0];
        Assert.Equal(2_000UL, v.Instructions);
        ulong elementsDone = 2_000UL - 3; // the three MOVs retired first
        Assert.Equal(10_000_000UL - elementsDone, v.Regs[Gpr.Rcx]);
        Assert.Equal(0x30_0000UL + elementsDone, v.Regs[Gpr.Rdi]);
        Assert.Contains("unrolled string I/O", run.Result.Detail, StringComparison.Ordinal);
    }
}
