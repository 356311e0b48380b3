using System.Buffers.Binary;
using Iced.Intel;
using TdxSim.Abi;
using TdxSim.Images;
using TdxSim.Machine.Scenarios;
using TdxSim.Machine.Tests.Guests;
using static Iced.Intel.AssemblerRegisters;

namespace TdxSim.Machine.Tests.EndToEnd;

/// <summary>
/// TDG.VP.VMCALL sub-functions issued by guest code, every status a guest can see: R10 for the TDVMCALL's own status,
/// RAX when the TDX module rejects the TDCALL (reference 2).
/// </summary>
public sealed class TdvmcallTests
{
    private const ulong Buffer = GuestAsm.DataPage;
    private const ulong SharedBuffer = GuestAsm.SharedBit | GuestAsm.DataPage;

    [Fact]
    public void GetTdVmCallInfo_Leaf1_ListsSetupEventNotifyAsTheOptionalCall_OtherLeavesAreInvalid()
    {
        TdRun run = TdRunner.Run(b =>
        {
            Assembler a = b.Asm;
            a.Tdvmcall(TdVmcallSubfunction.GetTdVmCallInfo, 1, ulong.MaxValue, ulong.MaxValue, ulong.MaxValue);
            foreach (AssemblerRegister64 r in new[] { r10, r11, r12, r13, r14 })
            {
                a.Report64(r);
            }

            a.Tdvmcall(TdVmcallSubfunction.GetTdVmCallInfo, 2);
            a.Report64(r10);
            a.Success();
        }).AssertExit(0);

        Assert.Equal([TdVmcall.Success, 1UL << 1, 0, 0, 0, TdVmcall.InvalidOperand], run.Reports64);
    }

    [Theory]
    [InlineData(0x1_2345UL, TdVmcall.SubfuncUnsupported)]
    [InlineData((ulong)TdVmcallSubfunction.Service, TdVmcall.SubfuncUnsupported)]
    [InlineData((ulong)TdVmcallSubfunction.InstructionPconfig, TdVmcall.SubfuncUnsupported)]
    [InlineData((ulong)TdVmcallSubfunction.InstructionWbinvd, TdVmcall.Success)]
    public void SubfunctionsWithoutArguments_ReturnTheirStatusInR10(ulong subfunction, ulong status)
    {
        TdRun run = TdRunner.Run(b =>
        {
            Assembler a = b.Asm;
            a.Tdvmcall(subfunction);
            a.Report64(rax);
            a.Report64(r10);
            a.Success();
        }).AssertExit(0);

        Assert.Equal([TdxStatus.Success, status], run.Reports64);
    }

    [Fact]
    public void VendorSpecificCall_R10NonZero_IsAnUnimplementedKvmHypercall()
    {
        TdRun run = TdRunner.Run(b =>
        {
            Assembler a = b.Asm;
            a.mov(r10d, 9); // KVM_HC_KICK_CPU, say
            a.mov(r11d, 1);
            a.mov(ecx, (uint)GuestAsm.Select);
            a.xor(eax, eax);
            a.tdcall();
            a.Report64(rax);
            a.Report64(r10);
            a.Success();
        }).AssertExit(0);

        Assert.Equal([TdxStatus.Success, unchecked((ulong)-1000L)], run.Reports64);
    }

    [Theory]
    [InlineData(GuestAsm.Select | GprMask.Rax)]
    [InlineData(GuestAsm.Select | GprMask.Rcx)]
    [InlineData(GuestAsm.Select | GprMask.Rsp)]
    [InlineData(GuestAsm.Select | GprMask.Rbp)] // NO_RBP_MOD is set, as KVM always does
    [InlineData(GuestAsm.Select | (1UL << 16))] // XMM_SELECT
    [InlineData(GuestAsm.Select | (1UL << 32))] // reserved bits 63:32
    public void BadGprSelect_FailsTheTdcallWithOperandInvalidRcx_AndNeverReachesTheVmm(ulong select)
    {
        TdRun run = TdRunner.Run(b =>
        {
            Assembler a = b.Asm;
            a.mov(r10, 0x1234UL);
            a.mov(r12d, 1);
            a.mov(r13d, (uint)TdVmcall.IoDirectionOut);
            a.mov(r14d, GuestAsm.Com1);
            a.mov(r15d, 'X');
            a.mov(r11d, (uint)TdVmcallSubfunction.InstructionIo);
            a.mov(rcx, select);
            a.xor(eax, eax);
            a.mov(r10, 0x1234UL); // GHCI says R10 = 0; the module rejects RCX before looking at it
            a.tdcall();
            a.Report64(rax);
            a.Report64(r10);
            a.Report64(r11);
            a.Success();
        }).AssertExit(0);

        Assert.Equal([TdxStatus.WithOperand(TdxStatus.OperandInvalid, Gpr.Rcx), 0x1234UL, (ulong)TdVmcallSubfunction.InstructionIo], run.Reports64);
        Assert.Empty(run.Com1Bytes);
        Assert.Equal(0, run.Counter("device.com1.writes"));
    }

    [Fact]
    public void GprSelect_TheVmmSeesOnlySelectedRegisters_AndTheGuestKeepsUnselectedOnes()
    {
        TdRun run = TdRunner.Run(b =>
        {
            Assembler a = b.Asm;
            a.mov(rbx, 0x0BB0_0BB0UL);
            a.mov(r15d, 'X'); // not selected: the VMM sees 0 and writes a NUL
            a.mov(r12d, 1);
            a.mov(r13d, (uint)TdVmcall.IoDirectionOut);
            a.mov(r14d, GuestAsm.Com1);
            a.TdvmcallLoaded((ulong)TdVmcallSubfunction.InstructionIo, GprMask.R10 | GprMask.R11 | GprMask.R12 | GprMask.R13 | GprMask.R14);
            a.Report64(r15);
            a.Report64(rbx);
            a.Success();
        }).AssertExit(0);

        Assert.Equal([0], run.Com1Bytes);
        Assert.Equal([(ulong)'X', 0x0BB0_0BB0UL], run.Reports64);
    }

    [Fact]
    public void MapGpa_MalformedRanges_ReturnAlignErrorOrInvalidOperandWithTheGpaInR11()
    {
        const ulong memory = TdRunner.DefaultMemory;
        TdRun run = TdRunner.Run(b =>
        {
            Assembler a = b.Asm;

            void MapGpa(ulong start, ulong size)
            {
                a.Tdvmcall(TdVmcallSubfunction.MapGpa, start, size);
                a.Report64(r10);
                a.Report64(r11);
            }

            MapGpa(SharedBuffer + 8, 0x1000);                          // start not page-aligned
            MapGpa(SharedBuffer, 0x800);                               // size not page-aligned
            MapGpa(SharedBuffer, 0);                                   // empty
            MapGpa(GuestAsm.SharedBit | (memory - 0x1000), 0x2000);    // leaves private memory
            MapGpa(GuestAsm.SharedBit - 0x1000, 0x2000);               // crosses the shared bit
            a.Success();
        }).AssertExit(0);

        Assert.Equal(
            [
                TdVmcall.AlignError, SharedBuffer + 8,
                TdVmcall.AlignError, SharedBuffer,
                TdVmcall.InvalidOperand, SharedBuffer,
                TdVmcall.InvalidOperand, GuestAsm.SharedBit | memory,
                TdVmcall.InvalidOperand, GuestAsm.SharedBit - 0x1000,
            ],
            run.Reports64);
        Assert.Equal(0, run.Counter("vmm.mapgpa.bytes_to_shared"));
    }

    [Fact]
    public void MapGpa_WithRetryAfterEachChunk_TheGuestResumesFromR11UntilSuccess()
    {
        const ulong start = GuestAsm.SharedBit | 0x40_0000;
        const ulong size = 0x40_0000; // two 2 MiB chunks
        TdRun run = TdRunner.Run(
            b =>
            {
                Assembler a = b.Asm;
                Label again = a.CreateLabel();
                Label done = a.CreateLabel();
                a.mov(rbx, start + size); // end
                a.mov(r12, start);
                a.Label(ref again);
                a.mov(r13, rbx);
                a.sub(r13, r12);
                a.TdvmcallLoaded((ulong)TdVmcallSubfunction.MapGpa);
                a.Report64(r10);
                a.cmp(r10, (int)TdVmcall.Retry);
                a.jne(done);
                a.Report64(r11);
                a.mov(r12, r11);
                a.jmp(again);
                a.Label(ref done);
                a.Success();
            },
            s => s with { VmmSettings = new VmmSettings { MapGpaRetry = true } }).AssertExit(0);

        Assert.Equal([TdVmcall.Retry, start + 0x20_0000, TdVmcall.Success], run.Reports64);
        Assert.Equal(1, run.Counter("vmm.tdvmcall.MapGPA.RETRY"));
        Assert.Equal(1, run.Counter("vmm.tdvmcall.MapGPA.SUCCESS"));
        Assert.Equal((long)size, run.Counter("vmm.mapgpa.bytes_to_shared"));
    }

    [Fact]
    public void GetQuote_OnASharedBuffer_CompletesLaterWithAQuoteOverTheTdReport()
    {
        TdRun run = TdRunner.Run(
            b =>
            {
                Assembler a = b.Asm;
                Label poll = a.CreateLabel();

                // A TDREPORT in private memory, then a two-page buffer converted to shared.
                a.Tdcall(TdcallLeaf.MrReport, Buffer + 0x4000, Buffer + 0x3000, 0);
                a.Tdvmcall(TdVmcallSubfunction.MapGpa, SharedBuffer, 0x2000);
                a.FatalUnlessSuccess();

                // Header: version 1, status 0, in_len 1024; data: the TDREPORT.
                a.mov(rdi, SharedBuffer);
                a.mov(__qword_ptr[rdi], 1);
                a.mov(__qword_ptr[rdi + 8], 0);
                a.mov(__dword_ptr[rdi + 16], 1024);
                a.mov(__dword_ptr[rdi + 20], 0);
                a.lea(rdi, __[rdi + 24]);
                a.mov(rsi, Buffer + 0x4000);
                a.mov(ecx, 1024);
                a.rep.movsb();

                a.Tdvmcall(TdVmcallSubfunction.GetQuote, SharedBuffer, 0x2000);
                a.Report64(r10);
                a.mov(rdi, SharedBuffer);
                a.Label(ref poll);
                a.pause();
                a.mov(rax, __qword_ptr[rdi + 8]);
                a.cmp(rax, -1); // IN_FLIGHT
                a.je(poll);
                a.Report64(rax);                        // status
                a.mov(eax, __dword_ptr[rdi + 20]);
                a.Report64(rax);                        // out_len
                a.mov(rax, __qword_ptr[rdi + 24]);
                a.Report64(rax);                        // quote magic
                a.movzx(eax, __byte_ptr[rdi + 24 + 12]);
                a.Report64(rax);                        // the embedded TDREPORT's type
                a.Success();
            },
            s => s with { VmmSettings = new VmmSettings { QuoteDelayNs = 100_000 } }).AssertExit(0);

        Assert.Equal(
            [TdVmcall.Success, 0UL, 1024UL + 44, BinaryPrimitives.ReadUInt64LittleEndian("TDXSIMQ1"u8), 0x81UL],
            run.Reports64);
        Assert.Equal(1, run.Counter("vmm.quotes_completed"));
    }

    [Fact]
    public void GetQuote_OnAPrivateUnalignedOrUnconvertedBuffer_ReturnsInvalidOperand()
    {
        TdRun run = TdRunner.Run(b =>
        {
            Assembler a = b.Asm;
            a.Tdvmcall(TdVmcallSubfunction.GetQuote, Buffer, 0x1000);              // private GPA
            a.Report64(r10);
            a.Tdvmcall(TdVmcallSubfunction.GetQuote, SharedBuffer + 0x800, 0x1000); // not page-aligned
            a.Report64(r10);
            a.Tdvmcall(TdVmcallSubfunction.GetQuote, SharedBuffer, 0x1000);        // no shared page behind it
            a.Report64(r10);
            a.Success();
        }).AssertExit(0);

        Assert.Equal([TdVmcall.InvalidOperand, TdVmcall.InvalidOperand, TdVmcall.InvalidOperand], run.Reports64);
        Assert.Equal(0, run.Counter("vmm.quotes_completed"));
    }

    [Fact]
    public void ReportFatalError_EndsTheTdWithStatus4AndTheDecodedMessage()
    {
        TdRun run = TdRunner.Run(b =>
        {
            Assembler a = b.Asm;

            // The 64-byte message travels in R14, R15, RBX, RDI, RSI, R8, R9, RDX, little-endian, NUL-terminated.
            byte[] text = new byte[64];
            "guest gave up: no disk"u8.CopyTo(text);
            AssemblerRegister64[] order = [r14, r15, rbx, rdi, rsi, r8, r9, rdx];
            for (int i = 0; i < order.Length; i++)
            {
                a.mov(order[i], BitConverter.ToUInt64(text, i * 8));
            }

            a.mov(r12, 0x8000_0000_0BAD_0000UL);
            a.mov(r13, Buffer);
            a.TdvmcallLoaded((ulong)TdVmcallSubfunction.ReportFatalError, 0xFFCC);
            a.Report64(r10); // never reached: the VMM does not resume the guest
            a.Success();
        }).AssertExit(4, "report-fatal-error");

        Assert.Contains("0x800000000BAD0000", run.Result.Detail, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("\"guest gave up: no disk\"", run.Result.Detail, StringComparison.Ordinal);
        Assert.Contains($"data at GPA 0x{Buffer:X}", run.Result.Detail, StringComparison.Ordinal);
        Assert.Empty(run.Reports);
    }

    [Fact]
    public void ReportFatalError_FromASecondVcpu_NamesTheVcpuRipAndInstructionBytes()
    {
        // Contract section 2, status 4: stderr names the vCPU, RIP, the instruction bytes and the reason. The line used
        // to carry only the vCPU and the decoded call.
        GuestProgram program = TdRunner.Assemble(b =>
        {
            Assembler a = b.Asm;
            Label idle = a.CreateLabel();
            a.test(edi, edi);
            a.jz(idle);
            a.mov(r12, 0x0BAA_AAAD_0000_0000UL);
            a.mov(r11, (ulong)TdVmcallSubfunction.ReportFatalError);
            a.xor(r10d, r10d);
            a.mov(rcx, 0xFFCCUL);
            a.xor(eax, eax);
            b.Define("tdcall");
            a.tdcall();
            a.Label(ref idle);
            a.pause();
            a.jmp(idle);
        });

        TdRun run = TdRunner.Run(program, vcpus: 2).AssertExit(4, "report-fatal-error");

        Assert.StartsWith($"vCPU 1: RIP 0x{program["tdcall"]:x} (bytes 660f01cc", run.Result.Detail, StringComparison.Ordinal);
        Assert.Contains("): TDG.VP.VMCALL<ReportFatalError code 0x0BAAAAAD00000000", run.Result.Detail, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public void ParavirtHlt_WithInterruptsBlocked_HaltsTheVcpuAndTheTdEndsWithStatus0()
    {
        TdRun run = TdRunner.Run(b =>
        {
            Assembler a = b.Asm;
            a.Tdvmcall(TdVmcallSubfunction.InstructionHlt, 1);
            a.DebugExit(0x33); // never reached: nothing wakes a vCPU halted with interrupts blocked
        }).AssertExit(0, "halted");

        Assert.Equal("halted", run.Result.Vcpus[0].State);
        Assert.Equal(0, run.Counter("vcpu0.ve"));
    }

    [Fact]
    public void ParavirtHlt_WithInterruptsEnabledAndNoWakeUp_IsReportedAsADeadlock()
    {
        TdRun run = TdRunner.Run(b =>
        {
            Assembler a = b.Asm;
            a.Tdvmcall(TdVmcallSubfunction.InstructionHlt, 0);
            a.DebugExit(0x33);
        }).AssertExit(6, "deadlock");

        Assert.Contains("vCPU 0 waits with interrupts enabled", run.Result.Detail, StringComparison.Ordinal);
    }
}
