using Iced.Intel;
using TdxSim.Abi;
using TdxSim.Abi.Messages;
using TdxSim.Cpu;
using TdxSim.Guest.Kernel;
using TdxSim.Images;
using TdxSim.Memory;

namespace TdxSim.Machine.Tests.GuestKernel;

/// <summary>
/// Drives one <see cref="VeHandler"/> by hand, with no actors: guest memory holding the faulting instruction, a vCPU
/// state, and hand-made <see cref="TdcallCompleted"/> replies standing in for the TDX module and the VMM.
/// </summary>
internal sealed class KernelBench : IDisposable
{
    /// <summary>Where the faulting instruction is placed.</summary>
    public const ulong CodeGpa = 0x1000;

    /// <summary>A private data page.</summary>
    public const ulong DataGpa = 0x8000;

    /// <summary>Registers TDG.VP.VEINFO.GET writes (RAX always).</summary>
    public const ushort VeinfoWritten = GprMask.Rax | GprMask.Rcx | GprMask.Rdx | GprMask.R8 | GprMask.R9 | GprMask.R10;

    /// <summary>The vCPU state the handler works on (a field so it can go by reference).</summary>
    public CpuState Cpu;

    public KernelBench(GuestKernelOptions? options = null, bool acceptAll = true)
    {
        Memory = new GuestPhysicalMemory(1 << 20, acceptAll);
        if (!acceptAll)
        {
            Assert.Equal(AcceptResult.Success, Memory.Accept(0, 0));
            Assert.Equal(AcceptResult.Success, Memory.Accept(CodeGpa, 0));
        }

        Options = options ?? GuestKernelOptions.Default;
        Handler = new VeHandler(Memory, Options);
        Cpu.Rip = CodeGpa;
        Cpu.Rflags = CpuState.ResetRflags;
    }

    public GuestPhysicalMemory Memory { get; }

    public GuestKernelOptions Options { get; }

    public VeHandler Handler { get; }

    /// <summary>Assembles <paramref name="emit"/> at <see cref="CodeGpa"/>, writes it to memory and points RIP at it.</summary>
    public int Load(Action<Assembler> emit)
    {
        GuestProgram program = GuestProgram.Assemble(CodeGpa, emit);
        Assert.True(Memory.TryWritePrivate(CodeGpa, program.Code));
        Cpu.Rip = CodeGpa;
        var decoder = Decoder.Create(64, new ByteArrayCodeReader(program.Code));
        decoder.IP = CodeGpa;
        decoder.Decode(out Instruction first);
        return first.Length;
    }

    /// <summary>
    /// Injects the #VE: checks the handler's first act is TDG.VP.VEINFO.GET with nothing but RAX = 3, answers it with
    /// <paramref name="ve"/>, and returns the handler's next step.
    /// </summary>
    public KernelStep Deliver(VeInfo ve)
    {
        KernelStep first = Handler.Begin();
        Assert.Equal(KernelStepKind.Tdcall, first.Kind);
        Gprs expected = default;
        expected[Gpr.Rax] = (ulong)TdcallLeaf.VpVeinfoGet;
        Assert.Equal(expected, first.Regs);
        Assert.True(Handler.IsActive);

        Gprs reply = default;
        reply[Gpr.Rcx] = (uint)ve.ExitReason;
        reply[Gpr.Rdx] = ve.ExitQualification;
        reply[Gpr.R8] = ve.Gla;
        reply[Gpr.R9] = ve.Gpa;
        reply[Gpr.R10] = ve.InstructionLength | ((ulong)ve.InstructionInfo << 32);
        KernelStep next = Handler.OnTdcallCompleted(ref Cpu, new TdcallCompleted(0, (ushort)TdcallLeaf.VpVeinfoGet, VeinfoWritten, reply));
        Assert.Equal(ve, Handler.CurrentVe);
        return next;
    }

    /// <summary>An I/O #VE (the qualification built from its fields).</summary>
    public KernelStep DeliverIo(int size, bool input, ushort port, uint length, bool isString = false, bool rep = false)
        => Deliver(new VeInfo(VeExitReason.IoInstruction, IoQualification.Encode(size, input, port, isString, rep), 0, 0, length, 0));

    /// <summary>An EPT-violation #VE at <paramref name="gpa"/> (instruction length 0: unreliable for EPT violations).</summary>
    public KernelStep DeliverEptViolation(ulong gpa, bool write = false)
        => Deliver(new VeInfo(VeExitReason.EptViolation, write ? EptQualification.Write : EptQualification.Read, gpa, gpa, 0, 0));

    /// <summary>The TDX module's completion of the handler's TDG.VP.VMCALL: the VMM's R10, R11.. and the TDCALL's RAX.</summary>
    public KernelStep CompleteVmcall(ulong r10 = TdVmcall.Success, ulong r11 = 0, ulong r12 = 0, ulong r13 = 0, ulong r14 = 0, ulong r15 = 0, ulong rax = TdxStatus.Success)
    {
        Gprs regs = default;
        regs[Gpr.Rax] = rax;
        regs[Gpr.R10] = r10;
        regs[Gpr.R11] = r11;
        regs[Gpr.R12] = r12;
        regs[Gpr.R13] = r13;
        regs[Gpr.R14] = r14;
        regs[Gpr.R15] = r15;
        return Handler.OnTdcallCompleted(ref Cpu, new TdcallCompleted(0, (ushort)TdcallLeaf.VpVmcall, (ushort)(Options.VmcallSelectMask | GprMask.Rax), regs));
    }

    /// <summary>The completion of a non-VMCALL leaf that writes only its status.</summary>
    public KernelStep CompleteLeaf(TdcallLeaf leaf, ulong status)
    {
        Gprs regs = default;
        regs[Gpr.Rax] = status;
        return Handler.OnTdcallCompleted(ref Cpu, new TdcallCompleted(0, (ushort)leaf, GprMask.Rax, regs));
    }

    /// <summary>
    /// Asserts <paramref name="step"/> is a TDG.VP.VMCALL exactly as Linux's __tdx_hypercall() builds it: RAX = 0,
    /// RCX = the select mask, R10 = 0, R11 = the sub-function, R12..R15 the arguments, every other register zero (no
    /// guest register leaks to the VMM).
    /// </summary>
    public void AssertVmcall(KernelStep step, TdVmcallSubfunction subfunction, ulong r12 = 0, ulong r13 = 0, ulong r14 = 0, ulong r15 = 0)
    {
        Assert.Equal(KernelStepKind.Tdcall, step.Kind);
        Gprs expected = default;
        expected[Gpr.Rax] = (ulong)TdcallLeaf.VpVmcall;
        expected[Gpr.Rcx] = Options.VmcallSelectMask;
        expected[Gpr.R10] = TdVmcall.StandardCall;
        expected[Gpr.R11] = (ulong)subfunction;
        expected[Gpr.R12] = r12;
        expected[Gpr.R13] = r13;
        expected[Gpr.R14] = r14;
        expected[Gpr.R15] = r15;
        Assert.Equal(Describe(expected), Describe(step.Regs));
    }

    /// <summary>Asserts the handler finished and RIP moved from <paramref name="rip"/> by exactly <paramref name="length"/>.</summary>
    public void AssertResumed(KernelStep step, ulong rip, ulong length)
    {
        Assert.Equal(KernelStepKind.Resume, step.Kind);
        Assert.Equal(rip + length, Cpu.Rip);
        Assert.False(Handler.IsActive);
    }

    /// <summary>Asserts the handler gave up with a diagnostic containing <paramref name="text"/>, leaving RIP on the instruction.</summary>
    public void AssertFatal(KernelStep step, string text, ulong rip)
    {
        Assert.Equal(KernelStepKind.Fatal, step.Kind);
        Assert.Contains(text, step.Detail, StringComparison.Ordinal);
        Assert.Equal(rip, Cpu.Rip);
        Assert.False(Handler.IsActive);
    }

    public void Dispose() => Memory.Dispose();

    private static string Describe(in Gprs regs)
    {
        var parts = new List<string>(Gprs.Count);
        for (int i = 0; i < Gprs.Count; i++)
        {
            parts.Add($"{Gprs.Names[i]}=0x{regs[i]:x}");
        }

        return string.Join(' ', parts);
    }
}
