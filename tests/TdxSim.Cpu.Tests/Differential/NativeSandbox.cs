using System.Runtime.InteropServices;
using Iced.Intel;
using TdxSim.Abi;
using static Iced.Intel.AssemblerRegisters;

namespace TdxSim.Cpu.Tests.Differential;

/// <summary>
/// Runs instruction sequences on the host CPU. One anonymous mapping at a fixed low address holds a
/// trampoline, the sequence, a context block, the data buffer and a private stack (see
/// <see cref="SandboxLayout"/>). The trampoline saves the callee-saved registers and the host RSP,
/// loads RFLAGS and all sixteen GPRs (RSP = the sandbox stack) from the context block and jumps to
/// the sequence; the sequence ends with a jump back to the epilogue, which stores every GPR, switches
/// back to the host stack, captures RFLAGS with PUSHFQ and returns. Code pages are writable only
/// while a sequence is being copied in (W^X with mprotect).
/// </summary>
internal sealed unsafe class NativeSandbox : IDisposable
{
    private const int CtxRflags = 16 * 8;
    private const int CtxHostRsp = CtxRflags + 8;

    /// <summary>Offset of the sequence's code pages in the mapping (see <see cref="SandboxLayout.Code"/>).</summary>
    private const ulong CodeOffset = 0x1000;

    /// <summary>Candidate addresses: unused below 2 GiB in a PIE .NET process on Linux.</summary>
    private static readonly ulong[] Candidates = [0x1000_0000, 0x2000_0000, 0x3000_0000, 0x4800_0000, 0x5800_0000, 0x6800_0000];

    private readonly byte* _base;

    private NativeSandbox(byte* mapping)
    {
        _base = mapping;
        Layout = new SandboxLayout((ulong)mapping);
        WriteTrampoline();
        HostFixedRflags = ProbeHostRflags();
    }

    public SandboxLayout Layout { get; }

    /// <summary>Address of the epilogue a sequence must jump to when done.</summary>
    public ulong Epilogue { get; private set; }

    /// <summary>RFLAGS bits other than the status flags and DF as user mode sees them (IF, bit 1, maybe ID).</summary>
    public ulong HostFixedRflags { get; }

    /// <summary>True when this host can run the native side (x86-64 Linux).</summary>
    public static bool IsSupportedHost =>
        OperatingSystem.IsLinux() && RuntimeInformation.ProcessArchitecture == Architecture.X64;

    public static NativeSandbox Create()
    {
        if (!IsSupportedHost)
        {
            throw new PlatformNotSupportedException("the native side of the differential test needs x86-64 Linux");
        }

        foreach (ulong address in Candidates)
        {
            nint p = NativeMethods.Mmap(
                (nint)address, (nuint)SandboxLayout.Size, NativeMethods.ProtRead | NativeMethods.ProtWrite,
                NativeMethods.MapPrivate | NativeMethods.MapAnonymous | NativeMethods.MapFixedNoReplace, -1, 0);
            if (p == NativeMethods.MapFailed)
            {
                continue;
            }

            if ((ulong)p != address)
            {
                // A kernel older than 4.17 takes MAP_FIXED_NOREPLACE as a hint only.
                _ = NativeMethods.Munmap(p, (nuint)SandboxLayout.Size);
                continue;
            }

            return new NativeSandbox((byte*)p);
        }

        throw new InvalidOperationException(
            $"cannot map the differential sandbox at any of {string.Join(", ", Candidates.Select(c => $"0x{c:x}"))} (errno {Marshal.GetLastPInvokeError()})");
    }

    /// <summary>
    /// Runs <paramref name="code"/> (encoded for <see cref="SandboxLayout.Code"/>, ending in a jump to
    /// <see cref="Epilogue"/>) from <paramref name="input"/>; returns the state it leaves.
    /// </summary>
    public MachineState Run(ReadOnlySpan<byte> code, MachineState input)
    {
        if (code.Length > SandboxLayout.MaxCodeSize)
        {
            throw new ArgumentException($"sequence of {code.Length} bytes does not fit the sandbox", nameof(code));
        }

        Protect(CodeOffset, 0x7000, NativeMethods.ProtRead | NativeMethods.ProtWrite);
        code.CopyTo(Span(Layout.Code, code.Length));
        Protect(CodeOffset, 0x7000, NativeMethods.ProtRead | NativeMethods.ProtExec);

        input.Data.CopyTo(Span(Layout.Data, SandboxLayout.DataSize));
        input.Stack.CopyTo(Span(Layout.StackWindowStart, input.Stack.Length));
        ulong* ctx = (ulong*)(_base + (Layout.Context - Layout.Base));
        for (int i = 0; i < Gprs.Count; i++)
        {
            ctx[i] = input.Gprs[i];
        }

        ctx[CtxRflags / 8] = input.Rflags;

        ((delegate* unmanaged<void>)_base)();

        var output = new MachineState();
        for (int i = 0; i < Gprs.Count; i++)
        {
            output.Gprs[i] = ctx[i];
        }

        output.Rflags = ctx[CtxRflags / 8];
        Span(Layout.Data, SandboxLayout.DataSize).CopyTo(output.Data);
        Span(Layout.StackWindowStart, output.Stack.Length).CopyTo(output.Stack);
        return output;
    }

    public void Dispose() => _ = NativeMethods.Munmap((nint)_base, (nuint)SandboxLayout.Size);

    private Span<byte> Span(ulong address, int length) => new(_base + (address - Layout.Base), length);

    private void Protect(ulong offset, ulong length, int protection)
    {
        if (NativeMethods.Mprotect((nint)(_base + offset), (nuint)length, protection) != 0)
        {
            throw new InvalidOperationException($"mprotect failed (errno {Marshal.GetLastPInvokeError()})");
        }
    }

    private void WriteTrampoline()
    {
        ulong c = Layout.Context;
        var a = new Assembler(64);
        Label epilogue = a.CreateLabel();

        // Prologue: SysV callee-saved registers and the host RSP, then the sequence's RFLAGS and GPRs.
        a.push(rbx);
        a.push(rbp);
        a.push(r12);
        a.push(r13);
        a.push(r14);
        a.push(r15);
        a.mov(__qword_ptr[(long)c + CtxHostRsp], rsp);
        a.push(__qword_ptr[(long)c + CtxRflags]);
        a.popfq();
        AssemblerRegister64[] regs = [rax, rcx, rdx, rbx, rsp, rbp, rsi, rdi, r8, r9, r10, r11, r12, r13, r14, r15];
        for (int i = 0; i < regs.Length; i++)
        {
            a.mov(regs[i], __qword_ptr[(long)c + (i * 8)]); // MOV leaves RFLAGS alone
        }

        a.jmp(Layout.Code);

        // Epilogue: every GPR as the sequence left it, then RFLAGS from the host stack.
        a.Label(ref epilogue);
        for (int i = 0; i < regs.Length; i++)
        {
            a.mov(__qword_ptr[(long)c + (i * 8)], regs[i]);
        }

        a.mov(rsp, __qword_ptr[(long)c + CtxHostRsp]);
        a.pushfq();
        a.pop(rax);
        a.mov(__qword_ptr[(long)c + CtxRflags], rax);
        a.cld(); // the SysV ABI requires DF = 0 on return
        a.pop(r15);
        a.pop(r14);
        a.pop(r13);
        a.pop(r12);
        a.pop(rbp);
        a.pop(rbx);
        a.ret();

        var writer = new PointerWriter(_base, 0x1000);
        AssemblerResult result = a.Assemble(writer, Layout.Trampoline, BlockEncoderOptions.ReturnNewInstructionOffsets);
        Epilogue = result.GetLabelRIP(epilogue);
        Protect(0, 0x1000, NativeMethods.ProtRead | NativeMethods.ProtExec);
        Protect(CodeOffset, 0x7000, NativeMethods.ProtRead | NativeMethods.ProtExec);
    }

    /// <summary>Runs an empty sequence to learn which non-status RFLAGS bits user mode shows.</summary>
    private ulong ProbeHostRflags()
    {
        var bytes = new ByteListWriter();
        Encoder.Create(64, bytes).Encode(Instruction.CreateBranch(Code.Jmp_rel32_64, Epilogue), Layout.Code);
        var input = new MachineState { Rflags = 0x202 };
        input.Gprs[Gpr.Rsp] = Layout.StackTop;
        MachineState output = Run(bytes.ToArray(), input);
        return output.Rflags & ~(X86Flags.Status | X86Flags.Df);
    }

    private sealed class PointerWriter(byte* target, int length) : CodeWriter
    {
        private int _at;

        public override void WriteByte(byte value)
        {
            if (_at >= length)
            {
                throw new InvalidOperationException("trampoline does not fit its page");
            }

            target[_at++] = value;
        }
    }
}
