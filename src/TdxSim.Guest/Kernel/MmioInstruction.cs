using Iced.Intel;
using TdxSim.Abi;

namespace TdxSim.Guest.Kernel;

/// <summary>The classes of MMIO instruction Linux's <c>insn_decode_mmio()</c> recognises (reference 3.5).</summary>
public enum MmioKind
{
    /// <summary>Not an instruction the TDX #VE handler can emulate.</summary>
    Unsupported,

    /// <summary>88 / 89: MOV m, r.</summary>
    Write,

    /// <summary>C6 / C7: MOV m, imm.</summary>
    WriteImmediate,

    /// <summary>8A / 8B: MOV r, m.</summary>
    Read,

    /// <summary>0F B6 / 0F B7: MOVZX r, m8 / m16.</summary>
    ReadZeroExtend,

    /// <summary>0F BE / 0F BF: MOVSX r, m8 / m16.</summary>
    ReadSignExtend,

    /// <summary>A4 / A5: MOVS. Decoded, but TDX refuses it (SEV-ES emulates it).</summary>
    Movs,
}

/// <summary>
/// A decoded MMIO instruction: what the #VE handler needs to emulate it through
/// TDG.VP.VMCALL&lt;#VE.RequestMMIO&gt;.
/// </summary>
/// <param name="Kind">The class.</param>
/// <param name="Length">Instruction length: RIP advances by this much.</param>
/// <param name="AccessSize">Bytes accessed in MMIO space (1, 2, 4 or 8).</param>
/// <param name="OperandSize">Operand size in bytes (the register width of MOVZX/MOVSX).</param>
/// <param name="Register">The ModRM reg operand (for reads: the destination; for writes: the source).</param>
/// <param name="HighByte">The register is AH, CH, DH or BH.</param>
/// <param name="Immediate">For <see cref="MmioKind.WriteImmediate"/>: the value written (sign-extended as the instruction does).</param>
/// <param name="Text">The instruction as text, for diagnostics (only for instructions the handler refuses).</param>
public readonly record struct MmioInstruction(
    MmioKind Kind,
    int Length,
    int AccessSize,
    int OperandSize,
    Gpr Register,
    bool HighByte,
    ulong Immediate,
    string Text);

/// <summary>
/// Decodes the instruction at the faulting RIP and classifies it exactly as Linux's
/// <c>insn_decode_mmio()</c> does: MOV to and from memory, MOV of an immediate, MOVZX and MOVSX,
/// at sizes 1, 2, 4 and 8; MOVS is recognised and refused; everything else is unsupported
/// (MOVSXD and the moffs forms of MOV included, as in the kernel). One instance per vCPU: it reuses
/// its decoder and buffer, so emulating a supported access allocates nothing.
/// </summary>
public sealed class MmioDecoder
{
    /// <summary>Longest x86 instruction.</summary>
    public const int MaxInstructionLength = 15;

    private readonly FetchBuffer _buffer = new();
    private readonly Decoder _decoder;

    /// <summary>Creates a decoder for 64-bit code.</summary>
    public MmioDecoder()
    {
        _decoder = Decoder.Create(64, _buffer, DecoderOptions.None);
    }

    /// <summary>Decodes <paramref name="bytes"/> (fetched at <paramref name="rip"/>).</summary>
    public MmioInstruction Decode(ReadOnlySpan<byte> bytes, ulong rip)
    {
        _buffer.Reset(bytes);
        _decoder.IP = rip;
        _decoder.Decode(out Instruction insn);
        if (insn.IsInvalid)
        {
            return new MmioInstruction(MmioKind.Unsupported, 0, 0, 0, Gpr.Rax, false, 0, "(undecodable bytes)");
        }

        int length = insn.Length;
        MmioInstruction Unsupported() => new(MmioKind.Unsupported, length, 0, 0, Gpr.Rax, false, 0, insn.ToString());

        switch (insn.Code)
        {
            // 88 / 89: MOV m, r
            case Code.Mov_rm8_r8:
            case Code.Mov_rm16_r16:
            case Code.Mov_rm32_r32:
            case Code.Mov_rm64_r64:
                if (insn.Op0Kind != OpKind.Memory)
                {
                    return Unsupported();
                }

                return WithRegister(MmioKind.Write, insn.Op1Register, length, memorySize: RegisterSize(insn.Op1Register));

            // C6 / C7: MOV m, imm
            case Code.Mov_rm8_imm8:
            case Code.Mov_rm16_imm16:
            case Code.Mov_rm32_imm32:
            case Code.Mov_rm64_imm32:
            {
                if (insn.Op0Kind != OpKind.Memory)
                {
                    return Unsupported();
                }

                int size = insn.Code switch
                {
                    Code.Mov_rm8_imm8 => 1,
                    Code.Mov_rm16_imm16 => 2,
                    Code.Mov_rm32_imm32 => 4,
                    _ => 8,
                };
                return new MmioInstruction(MmioKind.WriteImmediate, length, size, size, Gpr.Rax, false, insn.GetImmediate(1), string.Empty);
            }

            // 8A / 8B: MOV r, m
            case Code.Mov_r8_rm8:
            case Code.Mov_r16_rm16:
            case Code.Mov_r32_rm32:
            case Code.Mov_r64_rm64:
                if (insn.Op1Kind != OpKind.Memory)
                {
                    return Unsupported();
                }

                return WithRegister(MmioKind.Read, insn.Op0Register, length, memorySize: RegisterSize(insn.Op0Register));

            // 0F B6 / 0F B7: MOVZX r, m8 / m16
            case Code.Movzx_r16_rm8:
            case Code.Movzx_r32_rm8:
            case Code.Movzx_r64_rm8:
            case Code.Movzx_r16_rm16:
            case Code.Movzx_r32_rm16:
            case Code.Movzx_r64_rm16:
                if (insn.Op1Kind != OpKind.Memory)
                {
                    return Unsupported();
                }

                return WithRegister(MmioKind.ReadZeroExtend, insn.Op0Register, length, memorySize: SourceSize(insn.Code));

            // 0F BE / 0F BF: MOVSX r, m8 / m16
            case Code.Movsx_r16_rm8:
            case Code.Movsx_r32_rm8:
            case Code.Movsx_r64_rm8:
            case Code.Movsx_r16_rm16:
            case Code.Movsx_r32_rm16:
            case Code.Movsx_r64_rm16:
                if (insn.Op1Kind != OpKind.Memory)
                {
                    return Unsupported();
                }

                return WithRegister(MmioKind.ReadSignExtend, insn.Op0Register, length, memorySize: SourceSize(insn.Code));

            // A4 / A5: MOVS (decoded so the refusal can be named)
            case Code.Movsb_m8_m8:
            case Code.Movsw_m16_m16:
            case Code.Movsd_m32_m32:
            case Code.Movsq_m64_m64:
                return new MmioInstruction(MmioKind.Movs, length, insn.MemorySize switch
                {
                    MemorySize.UInt8 => 1,
                    MemorySize.UInt16 => 2,
                    MemorySize.UInt32 => 4,
                    _ => 8,
                }, 0, Gpr.Rax, false, 0, insn.ToString());

            default:
                return Unsupported();
        }
    }

    private static MmioInstruction WithRegister(MmioKind kind, Register register, int length, int memorySize)
    {
        bool high = register is Register.AH or Register.CH or Register.DH or Register.BH;
        Gpr gpr = high
            ? (Gpr)(register - Register.AH)
            : (Gpr)(register.GetFullRegister() - Register.RAX);
        return new MmioInstruction(kind, length, memorySize, RegisterSize(register), gpr, high, 0, string.Empty);
    }

    private static int RegisterSize(Register register) => register.GetSize();

    private static int SourceSize(Code code) => code switch
    {
        Code.Movzx_r16_rm8 or Code.Movzx_r32_rm8 or Code.Movzx_r64_rm8 => 1,
        Code.Movsx_r16_rm8 or Code.Movsx_r32_rm8 or Code.Movsx_r64_rm8 => 1,
        _ => 2,
    };
}

/// <summary>A reusable <see cref="CodeReader"/> over up to 15 fetched bytes.</summary>
internal sealed class FetchBuffer : CodeReader
{
    private readonly byte[] _bytes = new byte[MmioDecoder.MaxInstructionLength];
    private int _length;
    private int _position;

    public void Reset(ReadOnlySpan<byte> bytes)
    {
        int n = Math.Min(bytes.Length, _bytes.Length);
        bytes[..n].CopyTo(_bytes);
        _length = n;
        _position = 0;
    }

    public override int ReadByte() => _position < _length ? _bytes[_position++] : -1;
}
