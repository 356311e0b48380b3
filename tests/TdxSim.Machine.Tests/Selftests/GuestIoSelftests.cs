using Iced.Intel;
using TdxSim.Abi;
using TdxSim.Machine.Scenarios;
using TdxSim.Machine.Tests.Guests;
using static Iced.Intel.AssemblerRegisters;

namespace TdxSim.Machine.Tests.Selftests;

/// <summary>
/// The KVM TDX selftests of port I/O, MMIO and HLT (reference 7), adapted to TdxSim's devices: the values KVM's test
/// host supplies or checks by hand come from, or land in, devices with state.
/// </summary>
public sealed class GuestIoSelftests
{
    private const ulong FatalInvalidOperand = TdVmcall.InvalidOperand;

    /// <summary>A TDVMCALL whose INVALID_OPERAND the guest reports fatally (the selftests' last step).</summary>
    private static void AssertEndsWithFatalInvalidOperand(TdRun run)
    {
        run.AssertExit(4, "report-fatal-error");
        Assert.Contains($"code 0x{FatalInvalidOperand:X16}", run.Result.Detail, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public void VerifyGuestWrites_Sizes1To4ReachTheReportPort_Size5IsInvalidOperandReportedFatally()
    {
        // Adapted: KVM's host checks IO exits on port 0x51; TdxSim's report port 0x31 records each OUT at its size.
        TdRun run = TdRunner.Run(b =>
        {
            Assembler a = b.Asm;
            a.Tdvmcall(TdVmcallSubfunction.InstructionIo, 1, TdVmcall.IoDirectionOut, GuestAsm.ReportPort, 0xAB);
            a.FatalUnlessSuccess();
            a.Tdvmcall(TdVmcallSubfunction.InstructionIo, 2, TdVmcall.IoDirectionOut, GuestAsm.ReportPort, 0xABCD);
            a.FatalUnlessSuccess();
            a.Tdvmcall(TdVmcallSubfunction.InstructionIo, 4, TdVmcall.IoDirectionOut, GuestAsm.ReportPort, 0xFFAB_CDEF);
            a.FatalUnlessSuccess();
            a.Tdvmcall(TdVmcallSubfunction.InstructionIo, 5, TdVmcall.IoDirectionOut, GuestAsm.ReportPort, 0xFFAB_CDEF);
            a.FatalUnlessSuccess();
            a.Success();
        });

        AssertEndsWithFatalInvalidOperand(run);
        Assert.Equal([0xABUL, 0xABCD, 0xFFAB_CDEF], run.Reports);
    }

    [Fact]
    public void VerifyGuestReads_Sizes1To4ReturnTheDevicesValues_Size5IsInvalidOperandReportedFatally()
    {
        // Adapted: KVM's host supplies 0xAB, 0xABCD, 0xFFABCDEF on port 0x52. Here: COM1's scratch register (preset to
        // 0xAB by the guest), then PCI CONFIG_DATA of 00:00.0 at sizes 2 and 4 (vendor 0x8086, device 0x29C0).
        TdRun run = TdRunner.Run(b =>
        {
            Assembler a = b.Asm;
            a.Tdvmcall(TdVmcallSubfunction.InstructionIo, 1, TdVmcall.IoDirectionOut, GuestAsm.UartScratch, 0xAB);
            a.Tdvmcall(TdVmcallSubfunction.InstructionIo, 4, TdVmcall.IoDirectionOut, 0xCF8, 0x8000_0000);
            (ulong Size, ulong Port, ulong Expected)[] reads = [(1, GuestAsm.UartScratch, 0xAB), (2, 0xCFC, 0x8086), (4, 0xCFC, 0x29C0_8086)];
            for (int i = 0; i < reads.Length; i++)
            {
                a.Tdvmcall(TdVmcallSubfunction.InstructionIo, reads[i].Size, TdVmcall.IoDirectionIn, reads[i].Port);
                a.FatalUnlessSuccess();
                a.Report(r11);
                a.Expect(r11, reads[i].Expected, (byte)(i + 1));
            }

            a.Tdvmcall(TdVmcallSubfunction.InstructionIo, 5, TdVmcall.IoDirectionIn, 0xCFC);
            a.FatalUnlessSuccess();
            a.Success();
        });

        AssertEndsWithFatalInvalidOperand(run);
        Assert.Equal([0xABUL, 0x8086, 0x29C0_8086], run.Reports);
    }

    [Fact]
    public void VerifyMmioReads_Sizes1To8ReturnTheDevicesValue_Size10IsInvalidOperandReportedFatally()
    {
        // Adapted: KVM's host supplies each value at GPA 0x200000000; TdxSim's test device returns what was last
        // written to its scratch register, so the guest stores each value and reads it back at the same size.
        (ulong Size, ulong Value)[] values = [(1, 0x12), (2, 0x1234), (4, 0x1234_5678), (8, 0x1234_5678_90AB_CDEF)];
        TdRun run = TdRunner.Run(b =>
        {
            Assembler a = b.Asm;
            for (int i = 0; i < values.Length; i++)
            {
                a.Tdvmcall(TdVmcallSubfunction.VeRequestMmio, 8, TdVmcall.MmioWrite, GuestAsm.TestDevice, ulong.MaxValue);
                a.Tdvmcall(TdVmcallSubfunction.VeRequestMmio, values[i].Size, TdVmcall.MmioWrite, GuestAsm.TestDevice, values[i].Value);
                a.Tdvmcall(TdVmcallSubfunction.VeRequestMmio, values[i].Size, TdVmcall.MmioRead, GuestAsm.TestDevice);
                a.FatalUnlessSuccess();
                a.Report64(r11);
                a.Expect(r11, values[i].Value, (byte)(i + 1));
            }

            a.Tdvmcall(TdVmcallSubfunction.VeRequestMmio, 10, TdVmcall.MmioRead, GuestAsm.TestDevice);
            a.FatalUnlessSuccess();
            a.Success();
        });

        AssertEndsWithFatalInvalidOperand(run);
        Assert.Equal(values.Select(v => v.Value), run.Reports64);
    }

    [Fact]
    public void VerifyMmioWrites_Sizes1To8ReachTheDevice_AnEightByteWriteAtPrivateGpa0xFffIsInvalidOperandReportedFatally()
    {
        // Adapted: KVM's host checks four MMIO-write exits; here the device's access counter and its scratch register,
        // read back by the guest, show each write arrived with its value.
        (ulong Size, ulong Value)[] values = [(1, 0x12), (2, 0x1234), (4, 0x1234_5678), (8, 0x1234_5678_90AB_CDEF)];
        TdRun run = TdRunner.Run(b =>
        {
            Assembler a = b.Asm;
            for (int i = 0; i < values.Length; i++)
            {
                a.Tdvmcall(TdVmcallSubfunction.VeRequestMmio, values[i].Size, TdVmcall.MmioWrite, GuestAsm.TestDevice, values[i].Value);
                a.FatalUnlessSuccess();
                a.Tdvmcall(TdVmcallSubfunction.VeRequestMmio, values[i].Size, TdVmcall.MmioRead, GuestAsm.TestDevice);
                a.Report64(r11);
            }

            a.Tdvmcall(TdVmcallSubfunction.VeRequestMmio, 8, TdVmcall.MmioRead, GuestAsm.TestDevice + 8);
            a.Report64(r11);
            a.Tdvmcall(TdVmcallSubfunction.VeRequestMmio, 8, TdVmcall.MmioWrite, 0xFFF, values[3].Value);
            a.FatalUnlessSuccess();
            a.Success();
        });

        AssertEndsWithFatalInvalidOperand(run);
        Assert.Equal(values.Select(v => v.Value).Append(9UL), run.Reports64); // 4 writes + 4 reads, then this read
        Assert.Equal(4, run.Counter("device.mmio-test.writes"));
    }

    [Fact]
    public void VerifyGuestHlt_UnderTheDeterministicDispatcher_TheHostWakesTheVcpuAfterOneVirtualSecond()
    {
        TdRun run = TdRunner.Run(
            b =>
            {
                Assembler a = b.Asm;
                a.Tdvmcall(TdVmcallSubfunction.InstructionHlt, 0);
                a.FatalUnlessSuccess();
                a.Success();
            },
            s => s with { Deterministic = true, VmmSettings = new VmmSettings { HltWakeNs = 1_000_000_000 } }).AssertExit(0, "selftest-success");

        Assert.InRange(run.Result.VirtualNanoseconds, 1_000_000_000L, 1_100_000_000L);
        Assert.Equal(1, run.Counter("vmm.tdvmcall.Instruction.HLT.halted"));
        Assert.Equal(1, run.Counter("vmm.tdvmcall.Instruction.HLT.SUCCESS"));
    }

    [Fact]
    public void VerifyGuestHlt_UnderTheConcurrentDispatcher_TheHostWakesTheVcpuAfterTheWakeDelay()
    {
        TdRun run = TdRunner.Run(
            b =>
            {
                Assembler a = b.Asm;
                a.Tdvmcall(TdVmcallSubfunction.InstructionHlt, 0);
                a.FatalUnlessSuccess();
                a.Success();
            },
            s => s with { VmmSettings = new VmmSettings { HltWakeNs = 20_000_000 } }).AssertExit(0, "selftest-success");

        Assert.True(run.Result.Elapsed >= TimeSpan.FromMilliseconds(20), $"woke after {run.Result.Elapsed.TotalMilliseconds} ms");
    }
}
