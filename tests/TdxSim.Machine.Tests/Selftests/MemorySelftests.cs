using Iced.Intel;
using TdxSim.Abi;
using TdxSim.Machine.Tests.Guests;
using TdxSim.Memory;
using TdxSim.Vmm.Memory;
using static Iced.Intel.AssemblerRegisters;

namespace TdxSim.Machine.Tests.Selftests;

/// <summary>
/// verify_host_reading_private_mem, tdx_shared_mem_test and tdx_upm_test (reference 7). KVM's test host reads and
/// writes guest memory directly; TdxSim's host is the VMM, so its view of guest memory is what TDG.VP.VMCALL&lt;#VE.RequestMMIO&gt;
/// reaches: shared pages, and devices (or all ones) elsewhere. The guest asks it to read and write on the host's behalf.
/// </summary>
public sealed class MemorySelftests
{
    private const ulong PrivatePage = GuestAsm.DataPage;

    [Fact]
    public void VerifyHostReadingPrivateMem_TheHostsViewNeverShowsTheGuestsPrivateData()
    {
        TdRun run = TdRunner.Run(b =>
        {
            Assembler a = b.Asm;
            a.mov(rdi, PrivatePage);
            a.mov(__qword_ptr[rdi], 0xABCD);
            a.Tdvmcall(TdVmcallSubfunction.VeRequestMmio, 8, TdVmcall.MmioRead, GuestAsm.SharedBit | PrivatePage);
            a.Report64(r11);                 // the host's first look (port 0x53 in the selftest)
            a.mov(rdi, PrivatePage);
            a.mov(__qword_ptr[rdi], 0xFEDC);
            a.Tdvmcall(TdVmcallSubfunction.VeRequestMmio, 8, TdVmcall.MmioRead, GuestAsm.SharedBit | PrivatePage);
            a.Report64(r11);                 // and its second
            a.mov(rdi, PrivatePage);
            a.mov(rax, __qword_ptr[rdi]);
            a.Report64(rax);                 // the guest still sees its own data
            a.Success();
        }).AssertExit(0, "selftest-success");

        IReadOnlyList<ulong> r = run.Reports64;
        Assert.Equal(r[0], r[1]);
        Assert.Equal(ulong.MaxValue, r[0]); // no shared page behind the alias: unclaimed MMIO reads all ones
        Assert.Equal(0xFEDCUL, r[2]);
    }

    [Fact]
    public void VerifyHostReadingPrivateMem_TheVmmMemoryInterfaceRefusesPrivatePages()
    {
        using var memory = new GuestPhysicalMemory(1 << 20);
        Assert.True(memory.TryWritePrivate(0x1000, BitConverter.GetBytes(0xABCDUL)));
        IHostMemory host = new GuestPhysicalMemoryHost(memory);

        byte[] view = [1, 2, 3, 4, 5, 6, 7, 8];
        Assert.False(host.TryReadShared(0x1000, view));
        Assert.False(host.TryReadShared(GuestPhysical.SharedBit | 0x1000, view));
        Assert.Equal([1, 2, 3, 4, 5, 6, 7, 8], view);
        Assert.False(host.IsSharedBacked(0x1000));
        Assert.False(host.TryWriteShared(0x1000, view));

        // Once converted, the host sees the shared page (zeroed), never the old private contents.
        Assert.Equal(ConversionResult.Success, host.ConvertToShared(0x1000, 0x1000));
        Assert.True(host.TryReadShared(0x1000, view));
        Assert.Equal(new byte[8], view);
    }

    [Fact]
    public void TdxSharedMemTest_AfterMapGpaBothSidesSeeEachOthersWritesThroughTheSharedPage()
    {
        const ulong shared = GuestAsm.SharedBit | PrivatePage;
        TdRun run = TdRunner.Run(b =>
        {
            Assembler a = b.Asm;
            a.Tdvmcall(TdVmcallSubfunction.MapGpa, shared, 0x1000);
            a.FatalUnlessSuccess();
            a.mov(rdi, shared);
            a.mov(__dword_ptr[rdi], 0xCAFE_CAFE);

            // The host's side (port 0x87 in the selftest): it sees 0xCAFECAFE in its backing memory, writes 0xABCDABCD.
            a.Tdvmcall(TdVmcallSubfunction.VeRequestMmio, 4, TdVmcall.MmioRead, shared);
            a.FatalUnlessSuccess();
            a.Report(r11);
            a.Tdvmcall(TdVmcallSubfunction.VeRequestMmio, 4, TdVmcall.MmioWrite, shared, 0xABCD_ABCD);
            a.FatalUnlessSuccess();

            // The guest sends the shared page's value out.
            a.mov(rdi, shared);
            a.mov(eax, __dword_ptr[rdi]);
            a.Report(rax);
            a.Success();
        }).AssertExit(0, "selftest-success");

        Assert.Equal([0xCAFE_CAFEUL, 0xABCD_ABCD], run.Reports);
        Assert.Equal(0x1000, run.Counter("vmm.mapgpa.bytes_to_shared"));
    }

    /// <summary>
    /// tdx_upm_test: a 2 MiB area = general0 (1 MiB) + focus (40 KiB) + general1, with the selftest's patterns 0x33 (guest,
    /// general) and 0x44 (guest, focus). The host's patterns are adapted: freshly shared pages read zero here (KVM's host
    /// pre-filled 0x11), and the host's 0x22 is written by the VMM at the guest's request through #VE.RequestMMIO.
    /// After converting the focus back to private it reads zero, accepted lazily by the guest kernel's #VE handler (as the
    /// selftest's own handler does) or explicitly with TDG.MEM.PAGE.ACCEPT.
    /// </summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void TdxUpmTest_FocusConvertedToSharedAndBack_GeneralMemoryKeepsItsContentsAndTheFocusIsZeroed(bool acceptExplicitly)
    {
        const ulong area = 0x40_0000;
        const ulong general0 = area;
        const ulong focus = area + 0x10_0000;
        const ulong focusSize = 40 * 1024;
        const ulong general1 = focus + focusSize;
        const ulong general1Size = 0x20_0000 - 0x10_0000 - focusSize;
        const ulong guestGeneral = 0x3333_3333_3333_3333;
        const ulong guestFocus = 0x4444_4444_4444_4444;
        const ulong hostFocus = 0x2222_2222_2222_2222;
        const ulong sharedFocus = GuestAsm.SharedBit | focus;

        TdRun run = TdRunner.Run(b =>
        {
            Assembler a = b.Asm;

            void ExpectGeneral(byte code)
            {
                a.ExpectFilled(general0, 0x10_0000 / 8, guestGeneral, code);
                a.ExpectFilled(general1, general1Size / 8, guestGeneral, (byte)(code + 1));
            }

            // Fill the whole area privately; sync 1.
            a.Fill(area, 0x20_0000 / 8, guestGeneral);
            a.ReportValue(1);

            // Focus to shared: general memory keeps its contents, the focus starts empty.
            a.Tdvmcall(TdVmcallSubfunction.MapGpa, sharedFocus, focusSize);
            a.FatalUnlessSuccess();
            ExpectGeneral(0x10);
            a.ExpectFilled(sharedFocus, focusSize / 8, 0, 0x12);

            // The guest fills the shared focus; sync 2; the host checks it and writes its own pattern.
            a.Fill(sharedFocus, focusSize / 8, guestFocus);
            a.ReportValue(2);
            Label host = a.CreateLabel();
            a.mov(rbx, sharedFocus);
            a.Label(ref host);
            a.mov(r12d, 8);
            a.xor(r13d, r13d);
            a.mov(r14, rbx);
            a.TdvmcallLoaded((ulong)TdVmcallSubfunction.VeRequestMmio);
            a.Expect(r11, guestFocus, 0x13);
            a.mov(r12d, 8);
            a.mov(r13d, (uint)TdVmcall.MmioWrite);
            a.mov(r14, rbx);
            a.mov(r15, hostFocus);
            a.TdvmcallLoaded((ulong)TdVmcallSubfunction.VeRequestMmio);
            a.add(rbx, 8);
            a.mov(rax, sharedFocus + focusSize);
            a.cmp(rbx, rax);
            a.jb(host);
            a.ExpectFilled(sharedFocus, focusSize / 8, hostFocus, 0x14);

            // Focus back to private: general memory untouched, the focus reads zero once accepted; sync 3.
            a.Tdvmcall(TdVmcallSubfunction.MapGpa, focus, focusSize);
            a.FatalUnlessSuccess();
            ExpectGeneral(0x20);
            if (acceptExplicitly)
            {
                for (ulong page = focus; page < focus + focusSize; page += 0x1000)
                {
                    a.Tdcall(TdcallLeaf.MemPageAccept, page);
                    a.Expect(rax, TdxStatus.Success, 0x22);
                }
            }

            a.ExpectFilled(focus, focusSize / 8, 0, 0x23);
            a.ReportValue(3);

            // Refill privately and check everything.
            a.Fill(focus, focusSize / 8, guestGeneral);
            a.ExpectFilled(area, 0x20_0000 / 8, guestGeneral, 0x30);
            a.Success();
        }).AssertExit(0, "selftest-success");

        Assert.Equal([1UL, 2, 3], run.Reports);
        Assert.Equal((long)focusSize, run.Counter("vmm.mapgpa.bytes_to_shared"));
        Assert.Equal((long)focusSize, run.Counter("vmm.mapgpa.bytes_to_private"));
        Assert.Equal(2 * (long)(focusSize / 8), run.Counter("vmm.tdvmcall.#VE.RequestMMIO.SUCCESS")); // the host's read and write of each quadword
        Assert.Equal(10, run.Counter("tdx_module.tdcall.TDG.MEM.PAGE.ACCEPT"));
        Assert.Equal(acceptExplicitly ? 0 : 10, run.Counter("vcpu0.ve.EPT_VIOLATION"));
    }
}
