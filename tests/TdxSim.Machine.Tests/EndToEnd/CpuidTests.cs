using Iced.Intel;
using TdxSim.Abi;
using TdxSim.Machine.Tests.Guests;
using TdxSim.Vmm.Cpuid;
using static Iced.Intel.AssemblerRegisters;

namespace TdxSim.Machine.Tests.EndToEnd;

/// <summary>
/// CPUID as the guest sees it (contract section 3): leaves the TDX module virtualizes answer with no #VE; the
/// hypervisor range takes a #VE and the guest kernel asks the VMM; any other leaf takes a #VE and reads zeros.
/// </summary>
public sealed class CpuidTests
{
    /// <summary>Executes CPUID(leaf, sub-leaf) with garbage in RAX..RDX's upper halves, reports EAX, EBX, ECX, EDX.</summary>
    private static void Cpuid(Assembler a, uint leaf, uint subleaf = 0)
    {
        a.mov(rax, 0xDEAD_BEEF_0000_0000UL | leaf);
        a.mov(rcx, 0xDEAD_BEEF_0000_0000UL | subleaf);
        a.mov(rbx, ulong.MaxValue);
        a.mov(rdx, ulong.MaxValue);
        a.cpuid();
        a.Report64(rax);
        a.Report64(rbx);
        a.Report64(rcx);
        a.Report64(rdx);
    }

    private static string Ascii(params ulong[] registers) =>
        string.Concat(registers.Select(r => System.Text.Encoding.ASCII.GetString(BitConverter.GetBytes((uint)r))));

    [Fact]
    public void HypervisorLeaf_ByVe_EqualsTheParavirtAnswer()
    {
        TdRun run = TdRunner.Run(b =>
        {
            Assembler a = b.Asm;
            Cpuid(a, 0x4000_0000);
            a.Tdvmcall(TdVmcallSubfunction.InstructionCpuid, 0x4000_0000, 0);
            a.Report64(r12);
            a.Report64(r13);
            a.Report64(r14);
            a.Report64(r15);
            a.Success();
        }).AssertExit(0);

        IReadOnlyList<ulong> r = run.Reports64;
        Assert.Equal(r.Take(4), r.Skip(4));
        Assert.Equal(0x4000_0001UL, r[0]);
        Assert.Equal("TdxSimTdxSim", Ascii(r[1], r[2], r[3]));
        Assert.Equal(1, run.Counter("vcpu0.ve.CPUID"));
        Assert.Equal(2, run.Counter("vmm.tdvmcall.Instruction.CPUID.SUCCESS"));
    }

    [Fact]
    public void Leaf0x21_ReturnsIntelTdxWithoutAnyVe()
    {
        TdRun run = TdRunner.Run(b =>
        {
            Assembler a = b.Asm;
            Cpuid(a, 0x21);
            Cpuid(a, 0);
            a.Success();
        }).AssertExit(0);

        IReadOnlyList<ulong> r = run.Reports64;
        Assert.Equal(0UL, r[0]);
        Assert.Equal("IntelTDX    ", Ascii(r[1], r[3], r[2])); // EBX, EDX, ECX
        Assert.Equal(0x21UL, r[4]);
        Assert.Equal("GenuineIntel", Ascii(r[5], r[7], r[6]));
        Assert.Equal(0, run.Counter("vcpu0.ve.CPUID"));
        Assert.Equal(2, run.Counter("vcpu0.module_emulated"));
        Assert.Equal(2, run.Counter("tdx_module.tdexit.CPUID"));
        Assert.Equal(0, run.Counter("vmm.tdvmcall.Instruction.CPUID.SUCCESS"));
    }

    [Theory]
    [InlineData(0x4u)]      // cache enumeration: not virtualized here
    [InlineData(0x8000_0006u)]
    public void LeafTheModuleDoesNotVirtualize_OutsideTheHypervisorRange_ReadsZerosWithoutAskingTheVmm(uint leaf)
    {
        TdRun run = TdRunner.Run(b =>
        {
            Assembler a = b.Asm;
            Cpuid(a, leaf);
            a.Success();
        }).AssertExit(0);

        Assert.Equal([0UL, 0, 0, 0], run.Reports64);
        Assert.Equal(1, run.Counter("vcpu0.ve.CPUID"));
        Assert.Equal(0, run.Counter("vmm.tdvmcall.Instruction.CPUID.SUCCESS"));
    }

    [Fact]
    public void HypervisorLeafAboveTheVmmsMaximum_ReadsZerosFromTheVmm()
    {
        TdRun run = TdRunner.Run(b =>
        {
            Assembler a = b.Asm;
            Cpuid(a, 0x4000_0100);
            a.Success();
        }).AssertExit(0);

        Assert.Equal([0UL, 0, 0, 0], run.Reports64);
        Assert.Equal(1, run.Counter("vmm.tdvmcall.Instruction.CPUID.SUCCESS"));
    }

    [Fact]
    public void Leaf1_EveryVcpuSeesItsOwnIndexInEbx31To24()
    {
        TdRun run = TdRunner.Run(
            b =>
            {
                Assembler a = b.Asm;
                a.mov(r8, rdi);
                a.mov(eax, 1);
                a.xor(ecx, ecx);
                a.cpuid();
                a.shr(ebx, 24);
                a.shl(r8, 8);
                a.or(rbx, r8);
                a.Report(rbx); // one report per vCPU: index << 8 | APIC ID
                a.HaltForever();
            },
            vcpus: 3).AssertExit(0, "halted");

        Assert.Equal(new ulong[] { 0x000, 0x101, 0x202 }, run.Reports.Order());
    }

    [Fact]
    public void Leaf1_ByParavirt_IsTheVmmsUntrustedTable_ByCpuidTheModulesVirtualizedLeaf()
    {
        TdRun run = TdRunner.Run(b =>
        {
            Assembler a = b.Asm;
            Cpuid(a, 1);
            a.Tdvmcall(TdVmcallSubfunction.InstructionCpuid, 1, 0);
            a.Report64(r12);
            a.Report64(r13);
            a.Report64(r14);
            a.Report64(r15);
            a.Success();
        }).AssertExit(0);

        IReadOnlyList<ulong> r = run.Reports64;
        CpuidResult vmm = CpuidTable.CreateDefault().Lookup(1, 0, 0);
        Assert.Equal([vmm.Eax, vmm.Ebx, vmm.Ecx, vmm.Edx], r.Skip(4).Select(v => (uint)v));
        Assert.Equal(8UL, (r[1] >> 8) & 0xFF);          // CLFLUSH line size 64 bytes
        Assert.Equal(0UL, r[1] >> 24);                  // APIC ID of vCPU 0
        Assert.Equal(1UL, r[2] & 1);                    // SSE3
        Assert.Equal(0, run.Counter("vcpu0.ve.CPUID"));
    }
}
