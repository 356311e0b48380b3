using Iced.Intel;
using TdxSim.Abi;
using TdxSim.Machine.Scenarios;
using TdxSim.Machine.Tests.Guests;
using static Iced.Intel.AssemblerRegisters;

namespace TdxSim.Machine.Tests.Selftests;

/// <summary>
/// verify_guest_msr_writes and verify_guest_msr_reads (reference 7): a KVM MSR filter that denies by default and
/// allows x2APIC ICR (0x830), IA32_MISC_ENABLE read-only and MSR_IA32_POWER_CTL write-only, set through
/// <see cref="VmmSettings"/>. The guest uses TDVMCALL RDMSR/WRMSR directly, as the selftests do.
/// </summary>
public sealed class MsrSelftests
{
    private const uint Icr = 0x830;
    private const uint MiscEnable = 0x1A0;
    private const uint PowerCtl = 0x1FC;

    private static Scenario Filter(Scenario s, ulong icr, ulong miscEnable, ulong powerCtl) => s with
    {
        VmmSettings = new VmmSettings
        {
            MsrDefaultDeny = true,
            Msrs =
            [
                new MsrRule(Icr, MsrAccess.ReadWrite, icr),
                new MsrRule(MiscEnable, MsrAccess.ReadOnly, miscEnable),
                new MsrRule(PowerCtl, MsrAccess.WriteOnly, powerCtl),
            ],
        },
    };

    [Fact]
    public void VerifyGuestMsrWrites_AllowedAndWriteOnlyMsrsTakeTheValue_ReadOnlyAndDeniedMsrsAreInvalidOperand()
    {
        TdRun run = TdRunner.Run(
            b =>
            {
                Assembler a = b.Asm;
                foreach ((uint msr, ulong value) in new[] { (Icr, 4UL), (MiscEnable, 5UL), (PowerCtl, 6UL), (0x80Fu, 0x1FFUL) })
                {
                    a.Tdvmcall(TdVmcallSubfunction.InstructionWrmsr, msr, value);
                    a.Report64(r10);
                }

                // Adapted: KVM's host reads the MSRs back itself; here the guest reads what it can.
                a.Tdvmcall(TdVmcallSubfunction.InstructionRdmsr, Icr);
                a.Report64(r11);
                a.Tdvmcall(TdVmcallSubfunction.InstructionRdmsr, MiscEnable);
                a.Report64(r11);
                a.Success();
            },
            s => Filter(s, 0, 0x1800, 0)).AssertExit(0, "selftest-success");

        Assert.Equal(
            [
                TdVmcall.Success, TdVmcall.InvalidOperand, TdVmcall.Success, TdVmcall.InvalidOperand, // ICR, MISC_ENABLE, POWER_CTL, denied SPIV
                4UL, 0x1800UL,                                                                      // ICR = 4; MISC_ENABLE unchanged
            ],
            run.Reports64);
    }

    [Fact]
    public void VerifyGuestMsrReads_TheHostsPresetValuesAreRead_TheWriteOnlyMsrIsInvalidOperand()
    {
        TdRun run = TdRunner.Run(
            b =>
            {
                Assembler a = b.Asm;
                foreach (uint msr in new[] { Icr, MiscEnable, PowerCtl })
                {
                    a.mov(r11, ulong.MaxValue);
                    a.Tdvmcall(TdVmcallSubfunction.InstructionRdmsr, msr);
                    a.Report64(r10);
                    a.Report64(r11);
                }

                a.Success();
            },
            s => Filter(s, 4, 5, 6)).AssertExit(0, "selftest-success");

        // R11 carries no value when the read fails (the VMM echoes what the guest passed).
        Assert.Equal([TdVmcall.Success, 4UL, TdVmcall.Success, 5UL, TdVmcall.InvalidOperand], run.Reports64.Take(5));
    }

    [Fact]
    public void MsrFilter_AnRdmsrByVeOfADeniedMsr_IsGuestFatalAsInLinux()
    {
        TdRun run = TdRunner.Run(
            b =>
            {
                Assembler a = b.Asm;
                a.mov(ecx, 0x80F);
                a.rdmsr();
                a.Success();
            },
            s => Filter(s, 0, 0, 0)).AssertExit(4, "guest-fatal");

        Assert.Contains("RDMSR 0x80f failed", run.Result.Detail, StringComparison.Ordinal);
    }
}
