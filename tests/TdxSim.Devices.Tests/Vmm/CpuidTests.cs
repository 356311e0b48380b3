using System.Text;
using TdxSim.Abi;
using TdxSim.Abi.Messages;
using TdxSim.Vmm.Cpuid;

namespace TdxSim.Devices.Tests.Vmm;

public class CpuidTests
{
    private readonly VmmBed _bed = new();

    private (uint Eax, uint Ebx, uint Ecx, uint Edx) Cpuid(ulong leaf, ulong subleaf = 0, int vcpu = 0)
    {
        TdVmcallCompleted reply = _bed.Complete(TdVmcallSubfunction.InstructionCpuid, leaf, subleaf, vcpu: vcpu);
        Assert.Equal(TdVmcall.Success, reply.VmcallStatus);
        return ((uint)reply.Regs[Gpr.R12], (uint)reply.Regs[Gpr.R13], (uint)reply.Regs[Gpr.R14], (uint)reply.Regs[Gpr.R15]);
    }

    private static string Ascii(params uint[] registers) =>
        Encoding.ASCII.GetString([.. registers.SelectMany(BitConverter.GetBytes)]);

    [Fact]
    public void HypervisorLeaf_SignatureAndMaximum()
    {
        var (eax, ebx, ecx, edx) = Cpuid(0x4000_0000);

        Assert.Equal(0x4000_0001u, eax);
        Assert.Equal("TdxSimTdxSim", Ascii(ebx, ecx, edx));
    }

    [Theory]
    [InlineData(0x4000_0001UL)]
    [InlineData(0x4000_0002UL)]
    [InlineData(0x4000_0100UL)]
    [InlineData(0x4FFF_FFFFUL)]
    public void OtherHypervisorLeaves_AreZero(ulong leaf)
    {
        Assert.Equal((0u, 0u, 0u, 0u), Cpuid(leaf));
    }

    [Fact]
    public void Leaf0_GenuineIntel()
    {
        var (eax, ebx, ecx, edx) = Cpuid(0);

        Assert.Equal(0x21u, eax);
        Assert.Equal("GenuineIntel", Ascii(ebx, edx, ecx));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(3)]
    public void Leaf1_AsKvmWouldAnswer_WithApicId(int vcpu)
    {
        var (_, ebx, ecx, edx) = Cpuid(1, vcpu: vcpu);

        Assert.Equal(1u, ecx & 1); // SSE3 (verify_td_cpuid)
        Assert.Equal(1u, ecx >> 31); // hypervisor present
        Assert.Equal(1u, (ecx >> 21) & 1); // x2APIC
        Assert.Equal(8u, (ebx >> 8) & 0xFF); // CLFLUSH line size 64 bytes
        Assert.Equal((uint)vcpu, ebx >> 24); // initial APIC id
        Assert.Equal(1u, (edx >> 26) & 1); // SSE2
    }

    [Fact]
    public void Leaf7_SubleafMatters()
    {
        Assert.NotEqual(0u, Cpuid(7, 0).Ebx);
        Assert.Equal((0u, 0u, 0u, 0u), Cpuid(7, 1));
    }

    [Fact]
    public void Leaf1_IgnoresSubleaf()
    {
        Assert.Equal(Cpuid(1, 0), Cpuid(1, 5));
    }

    [Fact]
    public void ExtendedLeaf_AddressSizes()
    {
        Assert.Equal(0x8000_0008u, Cpuid(0x8000_0000).Eax);
        Assert.Equal(48u, (Cpuid(0x8000_0008).Eax >> 16) & 0xFF); // guest physical address bits = GPAW
    }

    [Fact]
    public void OutOfRangeLeaves_ReturnHighestBasicLeaf()
    {
        var table = new CpuidTable(
        [
            new(0, null, new(7, 1, 2, 3)),
            new(7, 0, new(0, 0xAAAA, 0, 0)),
            new(7, 1, new(0, 0xBBBB, 0, 0)),
            new(0x8000_0000, null, new(0x8000_0001, 0, 0, 0)),
            new(0x8000_0001, null, new(0, 0, 0x1, 0)),
        ]);

        Assert.Equal(0xAAAAu, table.Lookup(0x20, 0, 0).Ebx);
        Assert.Equal(0xBBBBu, table.Lookup(0x20, 1, 0).Ebx); // the sub-leaf rule of the leaf answered
        Assert.Equal(0xAAAAu, table.Lookup(0x8000_0008, 0, 0).Ebx);
        Assert.Equal(1u, table.Lookup(0x8000_0001, 0, 0).Ecx);
        Assert.Equal(default, table.Lookup(0x4000_0000, 0, 0)); // no hypervisor leaves: zeros
    }

    [Theory]
    [InlineData(0x1_0000_0000UL, 0UL)]
    [InlineData(1UL, 0x1_0000_0000UL)]
    public void OperandsAbove32Bits_AreInvalid(ulong leaf, ulong subleaf)
    {
        Assert.Equal(TdVmcall.InvalidOperand, _bed.Complete(TdVmcallSubfunction.InstructionCpuid, leaf, subleaf).VmcallStatus);
    }

    [Fact]
    public void Table_DuplicateEntry_Throws()
    {
        Assert.Throws<ArgumentException>(() => new CpuidTable([new(1, null, default), new(1, null, default)]));
        Assert.Throws<ArgumentException>(() => new CpuidTable([new(7, 0, default), new(7, 0, default)]));
        Assert.Throws<ArgumentException>(() => new CpuidTable([new(7, 1, default), new(7, null, default)]));
    }

    [Fact]
    public void PackSignature_RejectsWrongLength()
    {
        Assert.Throws<ArgumentException>(() => CpuidResult.PackSignature("short"));
    }
}
