using Iced.Intel;
using TdxSim.Abi;
using TdxSim.Images;
using TdxSim.Machine.Tests.Guests;
using static Iced.Intel.AssemblerRegisters;

namespace TdxSim.Machine.Tests.EndToEnd;

/// <summary>
/// MMIO through a whole TD: MOVs to a shared GPA with no page behind it take an EPT-violation #VE that the guest
/// kernel emulates with TDG.VP.VMCALL&lt;#VE.RequestMMIO&gt; (reference 3.5), compared with the same accesses made
/// directly by paravirt TDVMCALLs; and every way an MMIO access can fail.
/// </summary>
public sealed class MmioTests
{
    private const ulong Scratch = GuestAsm.TestDevice;
    private const ulong AccessCount = GuestAsm.TestDevice + 8;

    [Fact]
    public void IoApicVersion_ByVeAndByParavirt_Reads0x00170020()
    {
        TdRun run = TdRunner.Run(b =>
        {
            Assembler a = b.Asm;
            a.mov(rdi, GuestAsm.IoApic);
            a.mov(__dword_ptr[rdi], 1);          // IOREGSEL = IOAPICVER
            a.mov(eax, __dword_ptr[rdi + 0x10]); // IOWIN
            a.Report(rax);
            a.Tdvmcall(TdVmcallSubfunction.VeRequestMmio, 4, TdVmcall.MmioWrite, GuestAsm.IoApic, 1);
            a.Tdvmcall(TdVmcallSubfunction.VeRequestMmio, 4, TdVmcall.MmioRead, GuestAsm.IoApic + 0x10);
            a.Report(r11);
            a.Success();
        }).AssertExit(0);

        Assert.Equal([0x0017_0020UL, 0x0017_0020UL], run.Reports);
        Assert.Equal(2, run.Counter("vcpu0.ve.EPT_VIOLATION"));
        Assert.Equal(2, run.Counter("device.ioapic.reads"));
        Assert.Equal(2, run.Counter("device.ioapic.writes"));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(4)]
    [InlineData(8)]
    public void TestDeviceScratch_EverySize_ByVeAndByParavirt_SameValueAndSameAccessCount(int size)
    {
        const ulong value = 0x8877_6655_4433_2211;
        ulong expected = size == 8 ? value : value & ((1UL << (size * 8)) - 1);
        TdRun run = TdRunner.Run(b =>
        {
            Assembler a = b.Asm;
            a.mov(rdi, Scratch);

            // #VE: MOV of the access size to the scratch register and back (reads of 1 and 2 bytes into a cleared RAX).
            a.mov(rax, value);
            switch (size)
            {
                case 1:
                    a.mov(__byte_ptr[rdi], al);
                    a.xor(eax, eax);
                    a.mov(al, __byte_ptr[rdi]);
                    break;
                case 2:
                    a.mov(__word_ptr[rdi], ax);
                    a.xor(eax, eax);
                    a.mov(ax, __word_ptr[rdi]);
                    break;
                case 4:
                    a.mov(__dword_ptr[rdi], eax);
                    a.mov(eax, __dword_ptr[rdi]);
                    break;
                default:
                    a.mov(__qword_ptr[rdi], rax);
                    a.mov(rax, __qword_ptr[rdi]);
                    break;
            }

            a.Report64(rax);
            a.mov(rax, __qword_ptr[rdi + 8]); // access count: write, read, this read
            a.Report64(rax);

            // Paravirt: the same two accesses, then the count again.
            a.mov(rdi, Scratch);
            a.Tdvmcall(TdVmcallSubfunction.VeRequestMmio, (ulong)size, TdVmcall.MmioWrite, Scratch, value);
            a.Tdvmcall(TdVmcallSubfunction.VeRequestMmio, (ulong)size, TdVmcall.MmioRead, Scratch);
            a.Report64(r11);
            a.Tdvmcall(TdVmcallSubfunction.VeRequestMmio, 8, TdVmcall.MmioRead, AccessCount);
            a.Report64(r11);
            a.Success();
        }).AssertExit(0);

        Assert.Equal([expected, 3UL, expected, 6UL], run.Reports64);
        Assert.Equal(3, run.Counter("vcpu0.ve.EPT_VIOLATION"));
    }

    [Fact]
    public void MovzxMovsxAndHighByteReads_StoreAsTheGuestKernelDocuments()
    {
        const ulong ones = ulong.MaxValue;
        TdRun run = TdRunner.Run(b =>
        {
            Assembler a = b.Asm;
            a.mov(rdi, Scratch);
            a.mov(rax, 0x8081_8283_8485_8687UL);
            a.mov(__qword_ptr[rdi], rax);

            void Read(ulong preset, Action load, AssemblerRegister64 result)
            {
                a.mov(result, preset);
                load();
                a.Report64(result);
            }

            Read(ones, () => a.movzx(rax, __byte_ptr[rdi]), rax);    // 64-bit MOVZX: zero-filled
            Read(0, () => a.movsx(rax, __word_ptr[rdi]), rax);       // 64-bit MOVSX: sign-filled
            Read(ones, () => a.movzx(ebx, __word_ptr[rdi]), rbx);    // 32-bit MOVZX: bits 63:32 kept (Linux)
            Read(0, () => a.movsx(ecx, __byte_ptr[rdi]), rcx);       // 32-bit MOVSX: only the low 4 bytes filled (Linux)
            Read(ones, () => a.movzx(dx, __byte_ptr[rdi]), rdx);     // 16-bit MOVZX: bits 63:16 kept
            Read(0, () => a.mov(ah, __byte_ptr[rdi]), rax);          // high-byte register
            Read(ones, () => a.mov(si, __word_ptr[rdi]), rsi);       // 2-byte MOV keeps the upper bits
            Read(ones, () => a.mov(r9d, __dword_ptr[rdi]), r9);      // 4-byte MOV zero-extends
            a.Success();
        }).AssertExit(0);

        Assert.Equal(
            [
                0x87UL,
                0xFFFF_FFFF_FFFF_8687UL,
                0xFFFF_FFFF_0000_8687UL,
                0x0000_0000_FFFF_FF87UL,
                0xFFFF_FFFF_FFFF_0087UL,
                0x8700UL,
                0xFFFF_FFFF_FFFF_8687UL,
                0x8485_8687UL,
            ],
            run.Reports64);
    }

    [Fact]
    public void MovImmediateAndHighByteWrites_ReachTheDeviceWithTheInstructionsValue()
    {
        TdRun run = TdRunner.Run(b =>
        {
            Assembler a = b.Asm;
            a.mov(rdi, Scratch);
            a.mov(__qword_ptr[rdi], -2);          // C7 /0 with REX.W: imm32 sign-extended to 64 bits
            a.mov(rax, __qword_ptr[rdi]);
            a.Report64(rax);
            a.mov(__byte_ptr[rdi + 1], 0x12);     // C6 /0 at +1: only bits 15:8 change
            a.mov(rax, __qword_ptr[rdi]);
            a.Report64(rax);
            a.mov(ecx, 0xAB00);
            a.mov(__byte_ptr[rdi], ch);           // 88 /r from CH
            a.mov(rax, __qword_ptr[rdi]);
            a.Report64(rax);
            a.Success();
        }).AssertExit(0);

        Assert.Equal([0xFFFF_FFFF_FFFF_FFFEUL, 0xFFFF_FFFF_FFFF_12FEUL, 0xFFFF_FFFF_FFFF_12ABUL], run.Reports64);
    }

    [Fact]
    public void SharedGpaWithNoDevice_ReadsAllOnesAndIgnoresWrites()
    {
        TdRun run = TdRunner.Run(b =>
        {
            Assembler a = b.Asm;
            a.mov(rdi, GuestAsm.SharedBit | 0x1234_5000);
            a.mov(__dword_ptr[rdi], 0);
            a.mov(rax, 0x1122_3344_5566_7788UL);
            a.mov(eax, __dword_ptr[rdi]);
            a.Report64(rax);
            a.Success();
        }).AssertExit(0);

        Assert.Equal([0xFFFF_FFFFUL], run.Reports64);
        Assert.Equal(1, run.Counter("bus.mmio.unclaimed_reads"));
        Assert.Equal(1, run.Counter("bus.mmio.unclaimed_writes"));
    }

    public static TheoryData<string, string, Action<Assembler>> UnsupportedInstructions => new()
    {
        { "ADD to MMIO", "unsupported instruction", a => a.add(__dword_ptr[rdi], eax) },
        { "MOVSXD from MMIO", "unsupported instruction", a => a.movsxd(rax, __dword_ptr[rdi]) },
        { "MOVS to MMIO", "MOVS is not supported", a => a.movsb() },
        { "page-crossing MOV", "crosses a page boundary", a => a.mov(eax, __dword_ptr[rdi + 0xFFE]) },
    };

    [Theory]
    [MemberData(nameof(UnsupportedInstructions))]
    public void UnsupportedMmioInstruction_IsGuestFatalNamingTheVcpuRipAndInstructionBytes(string what, string reason, Action<Assembler> instruction)
    {
        GuestProgram program = TdRunner.Assemble(b =>
        {
            Assembler a = b.Asm;
            a.mov(rdi, Scratch);
            a.mov(rsi, GuestAsm.DataPage);
            b.Define("mmio");
            instruction(a);
            a.Success();
        });
        string bytes = InstructionBytes(program, "mmio");

        TdRun run = TdRunner.Run(program).AssertExit(4, "guest-fatal");

        string detail = run.Result.Detail;
        Assert.True(detail.Contains("vCPU 0", StringComparison.Ordinal), $"{what}: {detail}");
        Assert.Contains($"RIP 0x{program["mmio"]:x}", detail, StringComparison.Ordinal);
        Assert.Contains($"bytes {bytes}", detail, StringComparison.Ordinal);
        Assert.Contains(reason, detail, StringComparison.Ordinal);
        Assert.Contains("EPT_VIOLATION", detail, StringComparison.Ordinal);
        Assert.Equal(program["mmio"], run.Result.Vcpus[0].Rip);
        Assert.Equal(0, run.Counter("device.mmio-test.writes") + run.Counter("device.mmio-test.reads"));
    }

    public static TheoryData<ulong, ulong, ulong> MalformedRequests => new()
    {
        { 3, TdVmcall.MmioRead, Scratch },                       // size not 1, 2, 4 or 8
        { 10, TdVmcall.MmioRead, Scratch },
        { 4, 2, Scratch },                                       // direction not 0 or 1
        { 4, TdVmcall.MmioRead, 0xFEB0_0000 },                   // private GPA
        { 8, TdVmcall.MmioWrite, GuestAsm.SharedBit | 0xFFF },   // crosses a page
        { 4, TdVmcall.MmioRead, 1UL << 48 | Scratch },           // beyond GPAW
    };

    [Theory]
    [MemberData(nameof(MalformedRequests))]
    public void ParavirtRequestMmio_Malformed_ReturnsInvalidOperandAndTouchesNoDevice(ulong size, ulong direction, ulong gpa)
    {
        TdRun run = TdRunner.Run(b =>
        {
            Assembler a = b.Asm;
            a.Tdvmcall(TdVmcallSubfunction.VeRequestMmio, size, direction, gpa, 0x55);
            a.Report64(rax);
            a.Report64(r10);
            a.Success();
        }).AssertExit(0);

        Assert.Equal([TdxStatus.Success, TdVmcall.InvalidOperand], run.Reports64);
        Assert.Equal(0, run.Counter("device.mmio-test.writes") + run.Counter("device.mmio-test.reads"));
        Assert.Equal(0, run.Counter("bus.mmio.unclaimed_reads") + run.Counter("bus.mmio.unclaimed_writes"));
    }

    /// <summary>The encoding of the instruction at <paramref name="symbol"/>, in the diagnostic's lower-case hex.</summary>
    private static string InstructionBytes(GuestProgram program, string symbol)
    {
        int offset = (int)(program[symbol] - program.Origin);
        var decoder = Decoder.Create(64, new ByteArrayCodeReader(program.Code, offset, program.Code.Length - offset));
        decoder.IP = program[symbol];
        decoder.Decode(out Instruction instruction);
        return Convert.ToHexString(program.Code, offset, instruction.Length).ToLowerInvariant();
    }
}
