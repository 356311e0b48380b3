using TdxSim.Abi;
using TdxSim.Memory;
using static Iced.Intel.AssemblerRegisters;

namespace TdxSim.Cpu.Tests.Interpreter;

/// <summary>Memory exits: pending private pages, MMIO, shared pages, guest-fatal EPT violations, #GP beyond GPAW.</summary>
public sealed class ExitTests
{
    private const ulong Shared = GuestPhysical.SharedBit;

    [Fact]
    public void PendingPage_Read_RaisesEptVe_NoArchitecturalChange()
    {
        using var g = new Guest(
            a =>
            {
                a.add(rcx, 1);
                a.mov(rax, __qword_ptr[rbx]);
                a.hlt();
            },
            memorySize: 0x20000,
            acceptAll: false);
        g[Gpr.Rbx] = 0x10008;
        g[Gpr.Rax] = 0x55;
        CpuExit exit = g.Run();
        Assert.Equal(CpuExitKind.VirtualizationException, exit.Kind);
        Assert.Equal(VeExitReason.EptViolation, exit.Ve.ExitReason);
        Assert.Equal(EptQualification.Read | EptQualification.GlaValid | EptQualification.FinalTranslation, exit.Ve.ExitQualification);
        Assert.Equal(0x10008UL, exit.Ve.Gpa);
        Assert.Equal(0x10008UL, exit.Ve.Gla);
        Assert.Equal(Guest.CodeBase + 4, exit.Rip);
        Assert.Equal(0x55UL, g[Gpr.Rax]);
        Assert.Equal(1UL, g[Gpr.Rcx]);
        Assert.Equal(0UL, g.Rflags & Rflags.Status); // flags of the ADD are exact at the exit

        Assert.Equal(AcceptResult.Success, g.Memory.Accept(0x10000, 0));
        g.RunToHlt();
        Assert.Equal(0UL, g[Gpr.Rax]);
    }

    [Fact]
    public void SharedPage_AccessedThroughAlias_HostSeesWrites()
    {
        using var g = new Guest(a =>
        {
            a.mov(__qword_ptr[rbx], rax);
            a.mov(rcx, __qword_ptr[rbx + 8]);
            a.hlt();
        });
        Assert.Equal(ConversionResult.Success, g.Memory.ConvertToShared(0x20000, 0x1000));
        Assert.True(g.Memory.TryWriteShared(0x20008, BitConverter.GetBytes(0xCAFEUL)));
        g[Gpr.Rbx] = Shared | 0x20000;
        g[Gpr.Rax] = 0x1234;
        g.RunToHlt();
        var buffer = new byte[8];
        Assert.True(g.Memory.TryReadShared(Shared | 0x20000, buffer));
        Assert.Equal(0x1234UL, BitConverter.ToUInt64(buffer));
        Assert.Equal(0xCAFEUL, g[Gpr.Rcx]);
    }

    [Fact]
    public void SharedGpaWithoutPage_IsMmioVe_WithWriteQualification()
    {
        using var g = new Guest(a =>
        {
            a.mov(__dword_ptr[rbx + 0x10], eax);
            a.hlt();
        });
        g[Gpr.Rbx] = Shared | 0xFEC00000;
        CpuExit exit = g.Run();
        Assert.Equal(CpuExitKind.VirtualizationException, exit.Kind);
        Assert.Equal(VeExitReason.EptViolation, exit.Ve.ExitReason);
        Assert.Equal(EptQualification.Write | EptQualification.GlaValid | EptQualification.FinalTranslation, exit.Ve.ExitQualification);
        Assert.Equal(Shared | 0xFEC00010, exit.Ve.Gpa);
        Assert.Equal(3U, exit.Ve.InstructionLength);
    }

    [Fact]
    public void PrivateAccessOutsideMemory_IsGuestFatalEptViolation()
    {
        using var g = new Guest(a =>
        {
            a.mov(rax, __qword_ptr[rbx]);
            a.hlt();
        });
        g[Gpr.Rbx] = 0x4000_0000;
        CpuExit exit = g.Run();
        Assert.Equal(CpuExitKind.EptViolation, exit.Kind);
        Assert.Equal(0x4000_0000UL, exit.Ve.Gpa);
        Assert.Contains("outside private memory", exit.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public void PrivateAccessToConvertedPage_IsGuestFatal()
    {
        using var g = new Guest(a =>
        {
            a.mov(__byte_ptr[rbx], 1);
            a.hlt();
        });
        Assert.Equal(ConversionResult.Success, g.Memory.ConvertToShared(0x30000, 0x1000));
        g[Gpr.Rbx] = 0x30000;
        CpuExit exit = g.Run();
        Assert.Equal(CpuExitKind.EptViolation, exit.Kind);
        Assert.Contains("converted to shared", exit.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public void AddressBeyondGpaw_RaisesGp0()
    {
        using var g = new Guest(a =>
        {
            a.mov(rax, __qword_ptr[rbx]);
            a.hlt();
        });
        g[Gpr.Rbx] = 0xFFFF_8000_0000_0000;
        CpuExit exit = g.Run();
        Assert.Equal(CpuExitKind.Exception, exit.Kind);
        Assert.Equal(CpuExit.GeneralProtection, exit.Vector);
        Assert.Equal(0U, exit.ErrorCode);
        Assert.Contains("beyond", exit.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public void PageCrossingAccess_SecondPagePending_ReportsSecondPage()
    {
        using var g = new Guest(
            a =>
            {
                a.mov(__qword_ptr[rbx], rax);
                a.hlt();
            },
            memorySize: 0x20000,
            acceptAll: false);
        Assert.Equal(AcceptResult.Success, g.Memory.Accept(0xF000, 0));
        g[Gpr.Rbx] = 0xFFFC;
        CpuExit exit = g.Run();
        Assert.Equal(CpuExitKind.VirtualizationException, exit.Kind);
        Assert.Equal(0x10000UL, exit.Ve.Gpa);
        Assert.Equal(0UL, g.Read64(0xFFF8));
    }

    [Fact]
    public void FetchFromPendingPage_RaisesFetchVe()
    {
        using var g = new Guest(a => a.hlt(), memorySize: 0x20000, acceptAll: false);
        g.State.Rip = 0x10000;
        CpuExit exit = g.Run();
        Assert.Equal(CpuExitKind.VirtualizationException, exit.Kind);
        Assert.Equal(EptQualification.Fetch | EptQualification.GlaValid | EptQualification.FinalTranslation, exit.Ve.ExitQualification);
        Assert.Equal(0x10000UL, exit.Rip);
    }

    [Fact]
    public void RunZero_ReturnsLimitImmediately()
    {
        using var g = new Guest(a => a.hlt());
        CpuExit exit = g.Run(0);
        Assert.Equal(CpuExitKind.InstructionLimit, exit.Kind);
        Assert.Equal(Guest.CodeBase, exit.Rip);
    }
}
