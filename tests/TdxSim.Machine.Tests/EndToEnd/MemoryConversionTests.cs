using Iced.Intel;
using TdxSim.Abi;
using TdxSim.Machine.Tests.Guests;
using static Iced.Intel.AssemblerRegisters;

namespace TdxSim.Machine.Tests.EndToEnd;

/// <summary>
/// Private memory acceptance and private/shared conversion through a whole TD (reference 4): lazy acceptance by
/// #VE + TDG.MEM.PAGE.ACCEPT, MapGPA both ways, and what each side can see.
/// </summary>
public sealed class MemoryConversionTests
{
    private const ulong Page = GuestAsm.DataPage;
    private const ulong SharedPage = GuestAsm.SharedBit | GuestAsm.DataPage;

    [Fact]
    public void LazyAccept_TouchingPendingPages_AcceptsEachOnItsEptViolationAndTheGuestSeesItsOwnWrites()
    {
        ulong[] pages = [0x20_0000, 0x20_1000, 0x30_0000, 0xF0_0000];
        TdRun run = TdRunner.Run(
            b =>
            {
                Assembler a = b.Asm;
                foreach (ulong page in pages)
                {
                    a.mov(rdi, page);
                    a.mov(__qword_ptr[rdi + 8], (int)(page >> 12)); // a write as first touch
                }

                foreach (ulong page in pages)
                {
                    a.mov(rdi, page);
                    a.mov(rax, __qword_ptr[rdi + 8]);
                    a.Report64(rax);
                    a.mov(rax, __qword_ptr[rdi]);               // the rest of the page was zeroed by ACCEPT
                    a.Report64(rax);
                }

                a.Success();
            },
            s => s with { LazyAccept = true }).AssertExit(0);

        Assert.Equal(pages.SelectMany(p => new[] { p >> 12, 0UL }), run.Reports64);

        // Four data pages and the one stack page the reports push to; the image's pages were accepted at build time.
        Assert.Equal(5, run.Counter("vcpu0.ve.EPT_VIOLATION"));
        Assert.Equal(5, run.Counter("tdx_module.tdcall.TDG.MEM.PAGE.ACCEPT"));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void MapGpa_PrivateToSharedToPrivate_LosesTheContentsBothWaysAndReadsZeroAfterAcceptance(bool acceptExplicitly)
    {
        TdRun run = TdRunner.Run(b =>
        {
            Assembler a = b.Asm;
            a.mov(rdi, Page);
            a.mov(rax, 0x5A5A_5A5A_5A5A_5A5AUL);
            a.mov(__qword_ptr[rdi], rax);

            a.Tdvmcall(TdVmcallSubfunction.MapGpa, SharedPage, 0x1000);
            a.FatalUnlessSuccess();
            a.mov(rdi, SharedPage);
            a.mov(rax, __qword_ptr[rdi]);          // private contents do not follow the page
            a.Report64(rax);
            a.mov(rax, 0xCAFE_F00D_CAFE_F00DUL);
            a.mov(__qword_ptr[rdi], rax);
            a.mov(rax, __qword_ptr[rdi]);          // plain memory now: no #VE
            a.Report64(rax);

            a.Tdvmcall(TdVmcallSubfunction.MapGpa, Page, 0x1000);
            a.FatalUnlessSuccess();
            if (acceptExplicitly)
            {
                a.Tdcall(TdcallLeaf.MemPageAccept, Page);
                a.Report64(rax);
            }

            a.mov(rdi, Page);
            a.mov(rax, __qword_ptr[rdi]);          // lazily: an EPT-violation #VE, ACCEPT, retry
            a.Report64(rax);
            a.Success();
        }).AssertExit(0);

        ulong[] expected = acceptExplicitly ? [0, 0xCAFE_F00D_CAFE_F00D, TdxStatus.Success, 0] : [0, 0xCAFE_F00D_CAFE_F00D, 0];
        Assert.Equal(expected, run.Reports64);
        Assert.Equal(acceptExplicitly ? 0 : 1, run.Counter("vcpu0.ve.EPT_VIOLATION"));
        Assert.Equal(1, run.Counter("tdx_module.tdcall.TDG.MEM.PAGE.ACCEPT"));
        Assert.Equal(0x1000, run.Counter("vmm.mapgpa.bytes_to_shared"));
        Assert.Equal(0x1000, run.Counter("vmm.mapgpa.bytes_to_private"));
    }

    [Fact]
    public void SharedPage_TheVmmSeesTheGuestsWritesAndTheGuestSeesTheVmms()
    {
        TdRun run = TdRunner.Run(b =>
        {
            Assembler a = b.Asm;
            a.Tdvmcall(TdVmcallSubfunction.MapGpa, SharedPage, 0x1000);
            a.FatalUnlessSuccess();
            a.mov(rdi, SharedPage);
            a.mov(rax, 0x1111_2222_3333_4444UL);
            a.mov(__qword_ptr[rdi + 0x10], rax);

            // #VE.RequestMMIO on a GPA with a shared page behind it reaches the host's view of that memory.
            a.Tdvmcall(TdVmcallSubfunction.VeRequestMmio, 8, TdVmcall.MmioRead, SharedPage + 0x10);
            a.Report64(r11);
            a.Tdvmcall(TdVmcallSubfunction.VeRequestMmio, 4, TdVmcall.MmioWrite, SharedPage + 0x20, 0xABCD_ABCD);
            a.mov(rdi, SharedPage);
            a.mov(rax, __qword_ptr[rdi + 0x20]);
            a.Report64(rax);
            a.Success();
        }).AssertExit(0);

        Assert.Equal([0x1111_2222_3333_4444UL, 0xABCD_ABCDUL], run.Reports64);
        Assert.Equal(0, run.Counter("vcpu0.ve.EPT_VIOLATION"));
        Assert.Equal(0, run.Counter("device.bus.mmio.unclaimed_reads"));
    }
}
