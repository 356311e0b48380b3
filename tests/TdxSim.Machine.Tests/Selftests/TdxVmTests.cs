using Iced.Intel;
using TdxSim.Abi;
using TdxSim.Machine.Scenarios;
using TdxSim.Machine.Tests.Guests;
using TdxSim.Vmm.Cpuid;
using static Iced.Intel.AssemblerRegisters;

namespace TdxSim.Machine.Tests.Selftests;

/// <summary>
/// The KVM TDX selftests of <c>tdx_vm_tests.c</c> that need no device or memory set-up (reference 7), as whole TDs:
/// each guest reports on port 0x31 and ends on port 0x30 as the selftests do. Where KVM's host plays a part that
/// TdxSim's fixed host cannot, the test says how it was adapted.
/// </summary>
public sealed class TdxVmTests
{
    [Fact]
    public void VerifyTdLifecycle_GuestSignalsSuccessImmediately_Exit0()
    {
        TdRun run = TdRunner.Run(b => b.Asm.Success()).AssertExit(0, "selftest-success");

        Assert.Empty(run.Reports);
        Assert.Contains("port 0x30", run.Result.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public void VerifyReportFatalError_WithTheHostResuming_TheGuestGoesOnToSuccess()
    {
        // KVM's selftest host sees KVM_EXIT_SYSTEM_EVENT {0x10003, 0x0BAAAAAD00000000, 0}, then resumes the vCPU.
        TdRun run = TdRunner.Run(
            b =>
            {
                Assembler a = b.Asm;
                a.mov(rbx, 0x0BAA_AAAD_0000_0000UL);
                a.ReportFatalError(rbx);
                a.Report64(r10);
                a.Success();
            },
            s => s with { VmmSettings = new VmmSettings { OnFatalError = FatalErrorPolicy.Resume } });

        Assert.Equal(1, run.Counter("vmm.tdvmcall.ReportFatalError.SUCCESS"));
        run.AssertExit(0, "selftest-success");
        Assert.Equal([TdVmcall.Success], run.Reports64);
    }

    [Fact]
    public void VerifyReportFatalError_WithTheDefaultHost_TheTdStopsWithStatus4AndTheCode()
    {
        TdRun run = TdRunner.Run(b =>
        {
            Assembler a = b.Asm;
            a.mov(rbx, 0x0BAA_AAAD_0000_0000UL);
            a.ReportFatalError(rbx);
            a.Success();
        }).AssertExit(4, "report-fatal-error");

        string detail = run.Result.Detail;
        Assert.Contains("vCPU 0", detail, StringComparison.Ordinal);
        int first = detail.IndexOf("0BAAAAAD00000000", StringComparison.OrdinalIgnoreCase);
        Assert.True(first >= 0, detail);
        Assert.True(detail.IndexOf("0BAAAAAD00000000", first + 1, StringComparison.OrdinalIgnoreCase) < 0, $"the code is said twice: {detail}");
    }

    [Fact]
    public void VerifyTdIoexit_TheHostsDeviceAnswersTheGuestsInWithWhatItsOutLeft()
    {
        // Adapted: KVM's host answers IN port 0x50 with 0xAB + 1 by hand. TdxSim's host is its device model, so the
        // guest talks to devices with state: COM1's scratch register returns the byte last written, and the MMIO test
        // device's access counter makes "in - out == 1" hold between two reads.
        TdRun run = TdRunner.Run(b =>
        {
            Assembler a = b.Asm;
            a.Tdvmcall(TdVmcallSubfunction.InstructionIo, 1, TdVmcall.IoDirectionOut, GuestAsm.UartScratch, 0xAB);
            a.FatalUnlessSuccess();
            a.Tdvmcall(TdVmcallSubfunction.InstructionIo, 1, TdVmcall.IoDirectionIn, GuestAsm.UartScratch);
            a.FatalUnlessSuccess();
            a.Report(r11);
            a.Expect(r11, 0xAB, 1);
            a.Tdvmcall(TdVmcallSubfunction.VeRequestMmio, 8, TdVmcall.MmioRead, GuestAsm.TestDevice + 8);
            a.mov(rbx, r11);
            a.Tdvmcall(TdVmcallSubfunction.VeRequestMmio, 8, TdVmcall.MmioRead, GuestAsm.TestDevice + 8);
            a.sub(r11, rbx);
            a.Report(r11);
            a.Expect(r11, 1, 2);
            a.Success();
        }).AssertExit(0, "selftest-success");

        Assert.Equal([0xABUL, 1UL], run.Reports);
    }

    [Fact]
    public void VerifyTdCpuid_Leaf1IsAnsweredByTheTdxModuleWithoutAVe()
    {
        TdRun run = TdRunner.Run(b =>
        {
            Assembler a = b.Asm;
            a.mov(eax, 1);
            a.xor(ecx, ecx);
            a.cpuid();
            a.Report(rbx);
            a.Report(rcx);
            a.Success();
        }).AssertExit(0);

        ulong leaf1Ebx = run.Reports[0];
        ulong leaf1Ecx = run.Reports[1];
        Assert.Equal(8UL, (leaf1Ebx >> 8) & 0xFF);   // CLFLUSH line size: 8 x 8 = 64 bytes
        Assert.Equal(1UL, (leaf1Ebx >> 16) & 0xFF);  // addressable logical processors: MAX_VCPUS rounded up to a power of two
        Assert.Equal(0UL, leaf1Ebx >> 24);           // initial APIC ID of vCPU 0
        Assert.Equal(1UL, leaf1Ecx & 1);             // SSE3
        Assert.Equal(0UL, (leaf1Ecx >> 12) & 1);     // FMA: not enumerated by TdxSim's TDX module
        Assert.Equal(0, run.Counter("vcpu0.ve.CPUID"));
        Assert.Equal(1, run.Counter("vcpu0.module_emulated"));
    }

    [Fact]
    public void VerifyGetTdVmcallInfo_Leaf0ClearsR11ToR14()
    {
        TdRun run = TdRunner.Run(b =>
        {
            Assembler a = b.Asm;
            a.Tdvmcall(TdVmcallSubfunction.GetTdVmCallInfo, 0, 0x1313_1313, 0x1414_1414);
            a.FatalUnlessSuccess();
            foreach (AssemblerRegister64 r in new[] { r11, r12, r13, r14 })
            {
                a.Report64(r);
            }

            a.Success();
        }).AssertExit(0, "selftest-success");

        Assert.Equal([0UL, 0, 0, 0], run.Reports64);
    }

    [Fact]
    public void VerifyTdCpuidTdcall_TheVmmAnswersLeaf1FromItsCpuidTable()
    {
        TdRun run = TdRunner.Run(b =>
        {
            Assembler a = b.Asm;
            a.Tdvmcall(TdVmcallSubfunction.InstructionCpuid, 1, 0);
            a.FatalUnlessSuccess();
            foreach (AssemblerRegister64 r in new[] { r12, r13, r14, r15 })
            {
                a.Report(r);
            }

            a.Success();
        }).AssertExit(0, "selftest-success");

        // The host's expectation: its own (KVM-supported) leaf 1, ignoring the APIC ID in EBX[31:24].
        CpuidResult expected = CpuidTable.CreateDefault().Lookup(1, 0, 0);
        Assert.Equal([expected.Eax, expected.Ebx & 0x00FF_FFFF, expected.Ecx, expected.Edx], [run.Reports[0], run.Reports[1] & 0x00FF_FFFF, run.Reports[2], run.Reports[3]]);
    }

    [Fact]
    public void VerifyTdcallVpInfo_TwoVcpusWithSeptVeDisable_EachReportsGpawAttributesCountsAndIndex()
    {
        TdRun run = TdRunner.Run(
            b =>
            {
                Assembler a = b.Asm;
                Label turn = a.CreateLabel();
                Label wait = a.CreateLabel();
                Label waitDone = a.CreateLabel();
                Label finish = a.CreateLabel();

                // vCPU n reports when turn == n, then passes the turn on; vCPU 0 signals success when turn == 2.
                a.mov(rbx, rdi);
                a.Label(ref wait);
                a.pause();
                a.cmp(__dword_ptr[turn], ebx);
                a.jne(wait);
                foreach (AssemblerRegister64 r in new[] { rcx, rdx, r8, r9, r10, r11 })
                {
                    a.mov(r, ulong.MaxValue);
                }

                a.mov(eax, (uint)TdcallLeaf.VpInfo);
                a.tdcall();
                foreach (AssemblerRegister64 r in new[] { rcx, rdx, r8, r9, r10, r11 })
                {
                    a.Report64(r);
                }

                a.@lock.inc(__dword_ptr[turn]);
                a.test(ebx, ebx);
                a.jnz(finish);
                a.Label(ref waitDone);
                a.pause();
                a.cmp(__dword_ptr[turn], 2);
                a.jne(waitDone);
                a.Success();
                a.Label(ref finish);
                a.HaltForever();
                a.Label(ref turn);
                a.dd(0u);
            },
            s => s with { TdAttributes = TdAttributes.SeptVeDisable },
            vcpus: 2).AssertExit(0, "selftest-success");

        const ulong numAndMax = 2UL | (2UL << 32); // NUM_VCPUS 2; MAX_VCPUS = the TD's vCPU count here (KVM: 512)
        Assert.Equal(
            [
                48UL, TdAttributes.SeptVeDisable, numAndMax, 0, 0, 0,
                48UL, TdAttributes.SeptVeDisable, numAndMax, 1, 0, 0,
            ],
            run.Reports64);
        Assert.Equal(1UL << (48 - 1), GuestAsm.SharedBit); // shared bit = 1 << (GPAW - 1)
    }

    [Fact]
    public void VerifySetupEventNotify_VectorBelow32IsInvalid_Vector0x20IsAccepted()
    {
        // Adapted: interrupt delivery is not modelled yet, so the guest does not STI and nothing injects vector 0x20;
        // what remains is the x2APIC enable through TDVMCALL WRMSR and the two SetupEventNotifyInterrupt calls.
        TdRun run = TdRunner.Run(b =>
        {
            Assembler a = b.Asm;
            a.Tdvmcall(TdVmcallSubfunction.InstructionWrmsr, 0x80F, 0x1FF | 0x100);
            a.FatalUnlessSuccess();
            a.Tdvmcall(TdVmcallSubfunction.SetupEventNotifyInterrupt, 0x10);
            a.Report64(r10);
            a.Tdvmcall(TdVmcallSubfunction.SetupEventNotifyInterrupt, 0x20);
            a.Report64(r10);
            a.Tdvmcall(TdVmcallSubfunction.SetupEventNotifyInterrupt, 0x100);
            a.Report64(r10);
            a.Success();
        }).AssertExit(0, "selftest-success");

        Assert.Equal([TdVmcall.InvalidOperand, TdVmcall.Success, TdVmcall.InvalidOperand], run.Reports64);
    }
}
