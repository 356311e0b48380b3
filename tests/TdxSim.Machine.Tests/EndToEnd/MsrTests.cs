using Iced.Intel;
using TdxSim.Abi;
using TdxSim.Images;
using TdxSim.Machine.Tests.Guests;
using static Iced.Intel.AssemblerRegisters;

namespace TdxSim.Machine.Tests.EndToEnd;

/// <summary>
/// RDMSR and WRMSR through a whole TD: the TDX module emulates some MSRs, injects #GP for others and #VE for the
/// rest, which the guest kernel forwards to the VMM with TDG.VP.VMCALL&lt;Instruction.RDMSR/WRMSR&gt;.
/// </summary>
public sealed class MsrTests
{
    private const uint Spiv = 0x80F;
    private const uint MiscEnable = 0x1A0;
    private const uint PowerCtl = 0x1FC;

    [Fact]
    public void X2ApicSpiv_WrittenAndReadByVeAndByParavirt_GivesTheSameValue()
    {
        TdRun run = TdRunner.Run(b =>
        {
            Assembler a = b.Asm;
            a.mov(ecx, Spiv);
            a.mov(eax, 0x1FF);
            a.xor(edx, edx);
            a.wrmsr();
            a.mov(rax, ulong.MaxValue);
            a.mov(rdx, ulong.MaxValue);
            a.rdmsr();
            a.Report64(rax);
            a.Report64(rdx);
            a.Tdvmcall(TdVmcallSubfunction.InstructionWrmsr, Spiv, 0x1F0);
            a.Tdvmcall(TdVmcallSubfunction.InstructionRdmsr, Spiv);
            a.Report64(r11);
            a.Success();
        }).AssertExit(0);

        Assert.Equal([0x1FFUL, 0, 0x1F0], run.Reports64);
        Assert.Equal(1, run.Counter("vcpu0.ve.MSR_READ"));
        Assert.Equal(1, run.Counter("vcpu0.ve.MSR_WRITE"));
        Assert.Equal(2, run.Counter("vmm.tdvmcall.Instruction.RDMSR.SUCCESS"));
        Assert.Equal(2, run.Counter("vmm.tdvmcall.Instruction.WRMSR.SUCCESS"));
    }

    [Fact]
    public void MiscEnable_ReadByRdmsr_IsTheModulesValueWithoutAVe_ReadByParavirt_IsTheVmms()
    {
        TdRun run = TdRunner.Run(b =>
        {
            Assembler a = b.Asm;
            a.mov(ecx, MiscEnable);
            a.rdmsr();
            a.Report64(rax);
            a.Tdvmcall(TdVmcallSubfunction.InstructionRdmsr, MiscEnable);
            a.Report64(r11);
            a.Success();
        }).AssertExit(0);

        // Module: fast strings (bit 0), BTS and PEBS unavailable (bits 11, 12). VMM: its read-only reset value.
        Assert.Equal([0x1801UL, 0x1800], run.Reports64);
        Assert.Equal(0, run.Counter("vcpu0.ve.MSR_READ"));
        Assert.Equal(1, run.Counter("vcpu0.module_emulated"));
    }

    [Fact]
    public void RdmsrOfTheTsc_IsReadNatively_WithoutAVeOrAModuleExit()
    {
        // IA32_TIME_STAMP_COUNTER reads pass through the MSR bitmap; forwarding one to the module was an internal error.
        TdRun run = TdRunner.Run(b =>
        {
            Assembler a = b.Asm;
            a.rdtsc();
            a.mov(ebx, eax);
            a.mov(ecx, 0x10);
            a.rdmsr();
            a.sub(eax, ebx);
            a.Report64(rax);
            a.Success();
        }).AssertExit(0);

        // Three instructions retire between the two reads (RDTSC, MOV EBX, MOV ECX), one TSC tick each.
        Assert.Equal([3UL], run.Reports64);
        Assert.Equal(0, run.Counter("vcpu0.ve.MSR_READ"));
    }

    [Fact]
    public void Rdmsr_OfAnMsrTheModuleRefuses_IsAGeneralProtectionFaultThatEndsTheTd()
    {
        GuestProgram program = TdRunner.Assemble(b =>
        {
            Assembler a = b.Asm;
            a.mov(ecx, 0xC1); // IA32_PMC0: #GP without ATTRIBUTES.PERFMON
            b.Define("rdmsr");
            a.rdmsr();
            a.Success();
        });

        TdRun run = TdRunner.Run(program).AssertExit(4, "guest-fatal");

        Assert.Contains("#GP(0)", run.Result.Detail, StringComparison.Ordinal);
        Assert.Contains($"RIP 0x{program["rdmsr"]:x}", run.Result.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public void Rdmsr_ByVeOfAnMsrTheVmmRefuses_IsGuestFatal()
    {
        TdRun run = TdRunner.Run(b =>
        {
            Assembler a = b.Asm;
            a.mov(ecx, PowerCtl); // write-only in the VMM's table
            a.rdmsr();
            a.Success();
        }).AssertExit(4, "guest-fatal");

        Assert.Contains("RDMSR 0x1fc failed: TDG.VP.VMCALL_INVALID_OPERAND", run.Result.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public void Wrmsr_ByVeOfAReadOnlyMsr_IsGuestFatal()
    {
        TdRun run = TdRunner.Run(b =>
        {
            Assembler a = b.Asm;
            a.mov(ecx, 0x802); // x2APIC ID: read-only
            a.xor(eax, eax);
            a.xor(edx, edx);
            a.wrmsr();
            a.Success();
        }).AssertExit(4, "guest-fatal");

        Assert.Contains("WRMSR 0x802 failed: TDG.VP.VMCALL_INVALID_OPERAND", run.Result.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public void ParavirtRdmsrAndWrmsr_TheVmmRefuses_ReturnInvalidOperandAndTheGuestCarriesOn()
    {
        TdRun run = TdRunner.Run(b =>
        {
            Assembler a = b.Asm;
            a.Tdvmcall(TdVmcallSubfunction.InstructionRdmsr, PowerCtl);
            a.Report64(r10);
            a.Tdvmcall(TdVmcallSubfunction.InstructionWrmsr, MiscEnable, 5);
            a.Report64(r10);
            a.Tdvmcall(TdVmcallSubfunction.InstructionRdmsr, 0x1_0000_0000); // index above 32 bits
            a.Report64(r10);
            a.Success();
        }).AssertExit(0);

        Assert.Equal([TdVmcall.InvalidOperand, TdVmcall.InvalidOperand, TdVmcall.InvalidOperand], run.Reports64);
    }
}
