using Iced.Intel;

namespace TdxSim.Cpu.Tests.Differential;

/// <summary>One operand the generator chose: a register, a memory operand or an immediate.</summary>
internal readonly record struct Operand(OperandForm Form, Register Register, MemoryOperand Memory, long Immediate, OpCodeOperandKind Kind)
{
    public static Operand Reg(Register r, OpCodeOperandKind kind) => new(OperandForm.Register, r, default, 0, kind);

    public static Operand Mem(MemoryOperand m, OpCodeOperandKind kind) => new(OperandForm.Memory, Register.None, m, 0, kind);

    public static Operand Imm(long v, OpCodeOperandKind kind) => new(OperandForm.Immediate, Register.None, default, v, kind);
}

internal enum OperandForm
{
    Register,
    Memory,
    Immediate,
}

/// <summary>Turns Iced operand kinds into concrete operands, and operands into an <see cref="Instruction"/>.</summary>
internal static class OperandFactory
{
    private static readonly Register[] Regs8 =
    [
        Register.AL, Register.CL, Register.DL, Register.BL, Register.SPL, Register.BPL, Register.SIL, Register.DIL,
        Register.R8L, Register.R9L, Register.R10L, Register.R11L, Register.R12L, Register.R13L, Register.R14L, Register.R15L,
        Register.AH, Register.CH, Register.DH, Register.BH,
    ];

    public static bool CanFill(OpCodeOperandKind kind) => kind switch
    {
        OpCodeOperandKind.r8_or_mem or OpCodeOperandKind.r16_or_mem or OpCodeOperandKind.r32_or_mem or OpCodeOperandKind.r64_or_mem => true,
        OpCodeOperandKind.r8_reg or OpCodeOperandKind.r8_opcode => true,
        OpCodeOperandKind.r16_reg or OpCodeOperandKind.r16_rm or OpCodeOperandKind.r16_opcode => true,
        OpCodeOperandKind.r32_reg or OpCodeOperandKind.r32_rm or OpCodeOperandKind.r32_opcode => true,
        OpCodeOperandKind.r64_reg or OpCodeOperandKind.r64_rm or OpCodeOperandKind.r64_opcode => true,
        OpCodeOperandKind.al or OpCodeOperandKind.cl or OpCodeOperandKind.ax or OpCodeOperandKind.eax or OpCodeOperandKind.rax => true,
        OpCodeOperandKind.imm8 or OpCodeOperandKind.imm8_const_1 or OpCodeOperandKind.imm8sex16 or OpCodeOperandKind.imm8sex32
            or OpCodeOperandKind.imm8sex64 or OpCodeOperandKind.imm16 or OpCodeOperandKind.imm32 or OpCodeOperandKind.imm32sex64
            or OpCodeOperandKind.imm64 => true,
        OpCodeOperandKind.mem or OpCodeOperandKind.mem_offs => true,
        _ => false,
    };

    /// <summary>Register width of a register or r/m kind, in bits; 0 for other kinds.</summary>
    public static int Bits(OpCodeOperandKind kind) => kind switch
    {
        OpCodeOperandKind.r8_or_mem or OpCodeOperandKind.r8_reg or OpCodeOperandKind.r8_opcode or OpCodeOperandKind.al or OpCodeOperandKind.cl => 8,
        OpCodeOperandKind.r16_or_mem or OpCodeOperandKind.r16_reg or OpCodeOperandKind.r16_rm or OpCodeOperandKind.r16_opcode or OpCodeOperandKind.ax => 16,
        OpCodeOperandKind.r32_or_mem or OpCodeOperandKind.r32_reg or OpCodeOperandKind.r32_rm or OpCodeOperandKind.r32_opcode or OpCodeOperandKind.eax => 32,
        OpCodeOperandKind.r64_or_mem or OpCodeOperandKind.r64_reg or OpCodeOperandKind.r64_rm or OpCodeOperandKind.r64_opcode or OpCodeOperandKind.rax => 64,
        _ => 0,
    };

    public static bool IsRm(OpCodeOperandKind kind) =>
        kind is OpCodeOperandKind.r8_or_mem or OpCodeOperandKind.r16_or_mem or OpCodeOperandKind.r32_or_mem or OpCodeOperandKind.r64_or_mem;

    public static bool IsImmediate(OpCodeOperandKind kind) => kind is OpCodeOperandKind.imm8 or OpCodeOperandKind.imm8_const_1
        or OpCodeOperandKind.imm8sex16 or OpCodeOperandKind.imm8sex32 or OpCodeOperandKind.imm8sex64 or OpCodeOperandKind.imm16
        or OpCodeOperandKind.imm32 or OpCodeOperandKind.imm32sex64 or OpCodeOperandKind.imm64;

    /// <summary>A general register of <paramref name="bits"/> bits (8-bit includes AH to BH).</summary>
    public static Register RandomRegister(ValueSource v, int bits) => bits switch
    {
        8 => Regs8[v.Next(Regs8.Length)],
        16 => Register.AX + v.Next(16),
        32 => Register.EAX + v.Next(16),
        _ => Register.RAX + v.Next(16),
    };

    /// <summary>The register of <paramref name="bits"/> bits that is part of 64-bit register <paramref name="full"/>.</summary>
    public static Register Sized(Register full, int bits)
    {
        int n = full - Register.RAX;
        return bits switch
        {
            8 => n < 4 ? Register.AL + n : Register.SPL + (n - 4),
            16 => Register.AX + n,
            32 => Register.EAX + n,
            _ => full,
        };
    }

    public static Register Fixed(OpCodeOperandKind kind) => kind switch
    {
        OpCodeOperandKind.al => Register.AL,
        OpCodeOperandKind.cl => Register.CL,
        OpCodeOperandKind.ax => Register.AX,
        OpCodeOperandKind.eax => Register.EAX,
        OpCodeOperandKind.rax => Register.RAX,
        _ => Register.None,
    };

    /// <summary>An immediate for the kind: edges and random values in the kind's range.</summary>
    public static long Immediate(ValueSource v, OpCodeOperandKind kind) => kind switch
    {
        OpCodeOperandKind.imm8_const_1 => 1,
        OpCodeOperandKind.imm8 => v.Immediate(8, signExtend: false),
        OpCodeOperandKind.imm8sex16 or OpCodeOperandKind.imm8sex32 or OpCodeOperandKind.imm8sex64 => v.Immediate(8, signExtend: true),
        OpCodeOperandKind.imm16 => v.Immediate(16, signExtend: false),
        OpCodeOperandKind.imm32 => v.Immediate(32, signExtend: false),
        OpCodeOperandKind.imm32sex64 => v.Immediate(32, signExtend: true),
        _ => v.Immediate(64, signExtend: false),
    };

    /// <summary>Builds the instruction through Iced's typed factories (which set the immediate kinds right).</summary>
    public static Instruction Build(Code code, ReadOnlySpan<Operand> ops)
    {
        switch (ops.Length)
        {
            case 0:
                return Instruction.Create(code);
            case 1:
                return ops[0].Form switch
                {
                    OperandForm.Register => Instruction.Create(code, ops[0].Register),
                    OperandForm.Memory => Instruction.Create(code, ops[0].Memory),
                    _ => Instruction.Create(code, (int)ops[0].Immediate),
                };
            case 2:
                return (ops[0].Form, ops[1].Form) switch
                {
                    (OperandForm.Register, OperandForm.Register) => Instruction.Create(code, ops[0].Register, ops[1].Register),
                    (OperandForm.Register, OperandForm.Memory) => Instruction.Create(code, ops[0].Register, ops[1].Memory),
                    (OperandForm.Memory, OperandForm.Register) => Instruction.Create(code, ops[0].Memory, ops[1].Register),
                    (OperandForm.Register, OperandForm.Immediate) => ops[1].Kind == OpCodeOperandKind.imm64
                        ? Instruction.Create(code, ops[0].Register, (ulong)ops[1].Immediate)
                        : Instruction.Create(code, ops[0].Register, (int)ops[1].Immediate),
                    (OperandForm.Memory, OperandForm.Immediate) => Instruction.Create(code, ops[0].Memory, (int)ops[1].Immediate),
                    _ => throw new ArgumentException($"{code}: unsupported operand forms"),
                };
            case 3:
                return (ops[0].Form, ops[1].Form, ops[2].Form) switch
                {
                    (OperandForm.Register, OperandForm.Register, OperandForm.Immediate) =>
                        Instruction.Create(code, ops[0].Register, ops[1].Register, (int)ops[2].Immediate),
                    (OperandForm.Register, OperandForm.Memory, OperandForm.Immediate) =>
                        Instruction.Create(code, ops[0].Register, ops[1].Memory, (int)ops[2].Immediate),
                    (OperandForm.Memory, OperandForm.Register, OperandForm.Immediate) =>
                        Instruction.Create(code, ops[0].Memory, ops[1].Register, (int)ops[2].Immediate),
                    (OperandForm.Register, OperandForm.Register, OperandForm.Register) =>
                        Instruction.Create(code, ops[0].Register, ops[1].Register, ops[2].Register),
                    (OperandForm.Memory, OperandForm.Register, OperandForm.Register) =>
                        Instruction.Create(code, ops[0].Memory, ops[1].Register, ops[2].Register),
                    _ => throw new ArgumentException($"{code}: unsupported operand forms"),
                };
            default:
                throw new ArgumentException($"{code}: {ops.Length} operands");
        }
    }
}
