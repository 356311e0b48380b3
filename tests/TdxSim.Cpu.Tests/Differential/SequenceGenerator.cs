using Iced.Intel;

namespace TdxSim.Cpu.Tests.Differential;

/// <summary>
/// Generates reproducible random instruction sequences (a seed fully determines one) that cannot
/// fault natively: memory operands address the data buffer through reserved registers, absolute,
/// RIP-relative or RSP-relative forms; dividers are loaded so DIV/IDIV cannot raise #DE; counts of
/// CL shifts are loaded just before so their flag effects are known; BSF/BSR get a non-zero source;
/// string instructions get RSI/RDI/RCX ranges inside the buffer; POPF only loads status flags. Each
/// sequence is a chain of gadgets (setup plus the instruction under test); forward branches land only
/// on gadget boundaries.
/// </summary>
internal sealed class SequenceGenerator
{
    private static readonly Register[] BaseCandidates = [Register.RBX, Register.RBP, Register.R12, Register.R13, Register.R14, Register.R15];

    private static readonly Code[] JccCodes =
    [
        Code.Jo_rel8_64, Code.Jno_rel8_64, Code.Jb_rel8_64, Code.Jae_rel8_64, Code.Je_rel8_64, Code.Jne_rel8_64,
        Code.Jbe_rel8_64, Code.Ja_rel8_64, Code.Js_rel8_64, Code.Jns_rel8_64, Code.Jp_rel8_64, Code.Jnp_rel8_64,
        Code.Jl_rel8_64, Code.Jge_rel8_64, Code.Jle_rel8_64, Code.Jg_rel8_64, Code.Jmp_rel8_64,
    ];

    private readonly SandboxLayout _layout;
    private readonly ulong _fixedRflags;
    private readonly InstructionCatalog _catalog;
    private readonly int _specialWeight;
    private readonly Func<Instruction, bool>? _avoid;

    /// <param name="layout">Sandbox addresses.</param>
    /// <param name="fixedRflags">Non-status RFLAGS bits of the host (IF, bit 1...), kept by POPF.</param>
    /// <param name="catalog">Instruction forms to draw from.</param>
    /// <param name="specialGadgets">Whether branch, string and POPF gadgets are drawn too.</param>
    /// <param name="avoid">Instruction forms never to emit (known interpreter bugs), or null.</param>
    public SequenceGenerator(SandboxLayout layout, ulong fixedRflags, InstructionCatalog catalog, bool specialGadgets = true, Func<Instruction, bool>? avoid = null)
    {
        _avoid = avoid;
        _layout = layout;
        _fixedRflags = fixedRflags;
        _catalog = catalog;
        _specialWeight = specialGadgets ? 18 : 0;
    }

    public TestSequence Generate(int seed, int gadgets)
    {
        var v = new ValueSource(new Random(seed));
        Register baseReg = v.Chance(85) ? v.Pick(BaseCandidates) : Register.None;
        Register indexReg = Register.None;
        if (baseReg != Register.None && v.Chance(60))
        {
            do
            {
                indexReg = v.Pick(BaseCandidates);
            }
            while (indexReg == baseReg);
        }

        var input = new MachineState();
        for (int i = 0; i < 16; i++)
        {
            input.Gprs[i] = v.Register();
        }

        input.Gprs[(int)Abi.Gpr.Rsp] = _layout.StackTop;
        ulong baseValue = _layout.Data + (ulong)v.Next(SandboxLayout.DataSize);
        ulong indexValue = (ulong)(long)v.Next(-64, 65);
        if (baseReg != Register.None)
        {
            input.Gprs[baseReg - Register.RAX] = baseValue;
        }

        if (indexReg != Register.None)
        {
            input.Gprs[indexReg - Register.RAX] = indexValue;
        }

        input.Rflags = _fixedRflags | ((ulong)v.Next(0x1000) & X86Flags.Status);
        v.Fill(input.Data);
        v.Fill(input.Stack);

        var state = new GeneratorState(_layout, baseReg, baseValue, indexReg, indexValue, _avoid);
        var run = new Run(this, v, state, gadgets);
        run.EmitAll();

        List<Instruction> instructions = state.Instructions;
        var writer = new ByteListWriter();
        var block = new InstructionBlock(writer, instructions, _layout.Code);
        if (!BlockEncoder.TryEncode(64, block, out string? error, out _))
        {
            throw new InvalidOperationException($"seed {seed}: cannot encode the sequence: {error}");
        }

        return new TestSequence
        {
            Seed = seed,
            Instructions = instructions,
            Code = writer.ToArray(),
            Input = input,
            UndefinedFlags = state.UndefinedFlags,
            BaseRegister = baseReg,
            IndexRegister = indexReg,
        };
    }

    /// <summary>Flag effects of a shift or rotate by a known count (SDM Vol. 2B SAL/SAR/SHL/SHR, RCL/RCR/ROL/ROR, SHLD, SHRD).</summary>
    public static (ulong Defined, ulong Undefined) ShiftFlags(Mnemonic m, int bits, ulong count)
    {
        ulong c = count & (bits == 64 ? 63UL : 31UL);
        if (c == 0)
        {
            return (0, 0); // a masked count of 0 affects no flag
        }

        ulong of = c == 1 ? X86Flags.Of : 0;
        ulong ofUndefined = c == 1 ? 0 : X86Flags.Of;
        switch (m)
        {
            case Mnemonic.Shl or Mnemonic.Sal or Mnemonic.Shr:
                {
                    // CF is undefined for SHL/SHR when the count is at least the operand size (8/16-bit operands).
                    ulong cf = c < (ulong)bits ? X86Flags.Cf : 0;
                    return (cf | X86Flags.Sf | X86Flags.Zf | X86Flags.Pf | of, (X86Flags.Cf & ~cf) | X86Flags.Af | ofUndefined);
                }

            case Mnemonic.Sar or Mnemonic.Shld or Mnemonic.Shrd:
                return (X86Flags.Cf | X86Flags.Sf | X86Flags.Zf | X86Flags.Pf | of, X86Flags.Af | ofUndefined);
            case Mnemonic.Rcl or Mnemonic.Rcr when bits < 32 && c % (ulong)(bits + 1) == 0:
                // 8/16-bit RCL/RCR rotate by the count modulo 9/17: a multiple rotates nothing and CF stays.
                return (0, ofUndefined);
            default:
                // ROL/ROR/RCL/RCR: CF written, OF only for a count of 1, the rest untouched.
                return (X86Flags.Cf | of, ofUndefined);
        }
    }

    /// <summary>One sequence being generated.</summary>
    private sealed class Run(SequenceGenerator owner, ValueSource v, GeneratorState state, int gadgets)
    {
        private readonly Dictionary<int, (ulong Id, GeneratorState.Snapshot State)> _labels = [];
        private int _gadget;

        private SandboxLayout Layout => owner._layout;

        public void EmitAll()
        {
            for (_gadget = 0; _gadget <= gadgets; _gadget++)
            {
                bool hasLabel = _labels.TryGetValue(_gadget, out (ulong Id, GeneratorState.Snapshot State) label);
                if (hasLabel)
                {
                    state.Merge(label.State);
                }

                int start = state.Instructions.Count;
                if (_gadget < gadgets)
                {
                    for (int attempt = 0; attempt < 32 && state.Instructions.Count == start; attempt++)
                    {
                        GeneratorState.Snapshot before = state.Save();
                        if (!TryGadget())
                        {
                            state.Restore(before);
                        }
                    }
                }

                if (state.Instructions.Count == start)
                {
                    // The end of the sequence (or a gadget that found nothing to emit): a NOP to carry the label.
                    Require(state.TryEmit(Instruction.Create(Code.Nopd)));
                }

                if (hasLabel)
                {
                    Instruction first = state.Instructions[start];
                    first.IP = label.Id;
                    state.Instructions[start] = first;
                }
            }
        }

        private static void Require(bool ok)
        {
            if (!ok)
            {
                throw new InvalidOperationException("generator invariant broken: a setup instruction was rejected");
            }
        }

        private bool TryGadget()
        {
            int special = v.Next(100);
            if (special < owner._specialWeight)
            {
                return special switch
                {
                    < 8 => BranchGadget(),
                    < 15 => StringGadget(),
                    _ => PopfGadget(),
                };
            }

            string family = v.Pick(owner._catalog.FamilyNames);
            Code code = v.Pick(owner._catalog.Families[family]);
            return InstructionGadget(code);
        }

        private bool InstructionGadget(Code code)
        {
            OpCodeInfo op = code.ToOpCode();
            Mnemonic m = code.Mnemonic();
            var ops = new Operand[op.OpCount];
            for (int i = 0; i < ops.Length; i++)
            {
                ops[i] = MakeOperand(code, op, i);
            }

            if (m is Mnemonic.Div or Mnemonic.Idiv)
            {
                return DivideGadget(code, ops[0]);
            }

            // SHLD/SHRD of 16 bits with a count above 16 leave the destination undefined (SDM Vol. 2B SHLD).
            bool doubleShift16 = m is Mnemonic.Shld or Mnemonic.Shrd && OperandFactory.Bits(op.GetOpKind(0)) == 16;
            (ulong, ulong)? flagOverride = null;
            if (IsShift(m))
            {
                int bits = OperandFactory.Bits(op.GetOpKind(0));
                int countIndex = ops.Length - 1;
                ulong count = ShiftCount(bits, doubleShift16);
                if (ops[countIndex].Form == OperandForm.Immediate)
                {
                    ops[countIndex] = ops[countIndex] with { Immediate = ops[countIndex].Kind == OpCodeOperandKind.imm8_const_1 ? 1 : (long)count };
                }
                else
                {
                    Require(state.TryEmit(Instruction.Create(Code.Mov_r8_imm8, Register.CL, (int)count)));
                    state.SetKnown(Register.RCX, null);
                }

                flagOverride = ShiftFlags(m, bits, ops[countIndex].Kind == OpCodeOperandKind.imm8_const_1 ? 1 : count);
            }

            if (m is Mnemonic.Bsf or Mnemonic.Bsr && !MakeSourceNonZero(op, ops[1]))
            {
                return false;
            }

            if (m is Mnemonic.Bt or Mnemonic.Bts or Mnemonic.Btr or Mnemonic.Btc && ops[0].Form == OperandForm.Memory
                && ops[1].Form == OperandForm.Register)
            {
                return BitOffsetGadget(code, ops);
            }

            Instruction instr = OperandFactory.Build(code, ops);
            if (op.CanUseLockPrefix && ops.Length > 0 && ops[0].Form == OperandForm.Memory && v.Chance(20))
            {
                instr.HasLockPrefix = true;
            }

            return EmitWithDefinedFlags(instr, flagOverride);
        }

        /// <summary>Emits the instruction, first defining every status flag with a CMP if it reads one that is undefined.</summary>
        private bool EmitWithDefinedFlags(Instruction instr, (ulong, ulong)? flagOverride = null)
        {
            if ((GeneratorState.FlagsRead(instr) & state.UndefinedFlags) != 0)
            {
                Register a = Register.RAX + v.Next(16);
                Register b = Register.RAX + v.Next(16);
                Require(state.TryEmit(Instruction.Create(Code.Cmp_rm64_r64, a, b)));
            }

            return state.TryEmit(instr, flagOverride);
        }

        private static bool IsShift(Mnemonic m) => m is Mnemonic.Shl or Mnemonic.Sal or Mnemonic.Shr or Mnemonic.Sar or Mnemonic.Rol
            or Mnemonic.Ror or Mnemonic.Rcl or Mnemonic.Rcr or Mnemonic.Shld or Mnemonic.Shrd;

        private ulong ShiftCount(int bits, bool doubleShift16)
        {
            ulong[] interesting = [0, 1, 2, (ulong)bits - 1, (ulong)bits, (ulong)bits + 1, 31, 32, 33, 63, 64, 65, 0xFF, 0xE0, 0xC1];
            ulong c = v.Chance(50) ? v.Pick(interesting) : (ulong)v.Next(256);
            if (doubleShift16 && (c & 31) > 16)
            {
                c &= 15;
            }

            return c;
        }

        private Operand MakeOperand(Code code, OpCodeInfo op, int index)
        {
            OpCodeOperandKind kind = op.GetOpKind(index);
            Register fixedReg = OperandFactory.Fixed(kind);
            if (fixedReg != Register.None)
            {
                return Operand.Reg(fixedReg, kind);
            }

            if (OperandFactory.IsImmediate(kind))
            {
                return Operand.Imm(OperandFactory.Immediate(v, kind), kind);
            }

            bool noAccess = code.Mnemonic() is Mnemonic.Lea or Mnemonic.Nop;
            int size = op.MemorySize.GetSize();
            if (kind == OpCodeOperandKind.mem)
            {
                return Operand.Mem(noAccess ? AnyAddress() : DataAddress(size), kind);
            }

            if (kind == OpCodeOperandKind.mem_offs)
            {
                ulong ea = Layout.Data + (ulong)v.Next(SandboxLayout.DataSize - size + 1);
                return Operand.Mem(new MemoryOperand(Register.None, Register.None, 1, (long)ea, 8), kind);
            }

            int bits = OperandFactory.Bits(kind);
            if (OperandFactory.IsRm(kind) && v.Chance(45))
            {
                return Operand.Mem(noAccess ? AnyAddress() : DataAddress(size), kind);
            }

            return Operand.Reg(OperandFactory.RandomRegister(v, bits), kind);
        }

        /// <summary>A memory operand for an access of <paramref name="size"/> bytes inside the data buffer or the live stack.</summary>
        private MemoryOperand DataAddress(int size)
        {
            ulong ea = Layout.Data + (ulong)v.Next(SandboxLayout.DataSize - size + 1);
            ulong? b = state.Known(state.BaseRegister);
            ulong? x = state.Known(state.IndexRegister);
            int form = v.Next(100);
            if (form < 15 && state.Known(Register.RSP) is { } rsp)
            {
                ulong low = Math.Max(rsp - 16, Layout.StackWindowStart);
                ulong high = Layout.StackWindowEnd - (ulong)size;
                ulong sea = v.Chance(70) ? Math.Min(high, rsp + (ulong)v.Next(64)) : low + (ulong)v.Rng.NextInt64((long)(high - low + 1));
                return Mem(Register.RSP, Register.None, 1, (long)(sea - rsp));
            }

            if (form < 30)
            {
                return Mem(Register.None, Register.None, 1, (long)ea); // [disp32], no base
            }

            if (form < 42)
            {
                return new MemoryOperand(Register.RIP, Register.None, 1, (long)ea, 8);
            }

            if (b is not { } bv)
            {
                return Mem(Register.None, Register.None, 1, (long)ea);
            }

            if (v.Chance(40))
            {
                // Stay near the base so disp8 encodings come up too.
                long near = (long)bv + v.Next(-128, 128);
                long lo = (long)Layout.Data;
                long hi = (long)Layout.Data + SandboxLayout.DataSize - size;
                ea = (ulong)Math.Clamp(near, lo, hi);
            }

            if (x is { } xv && v.Chance(60))
            {
                int scale = 1 << v.Next(4);
                long disp = (long)ea - (long)bv - ((long)xv * scale);
                if (v.Chance(15))
                {
                    // Index without base: SIB with no base and disp32.
                    return Mem(Register.None, state.IndexRegister, scale, (long)ea - ((long)xv * scale));
                }

                if (v.Chance(10))
                {
                    // 32-bit address size (67 prefix): the sandbox is below 4 GiB, so the address is the same.
                    return Mem(OperandFactory.Sized(state.BaseRegister, 32), OperandFactory.Sized(state.IndexRegister, 32), scale, disp);
                }

                return Mem(state.BaseRegister, state.IndexRegister, scale, disp);
            }

            return Mem(state.BaseRegister, Register.None, 1, (long)ea - (long)bv);
        }

        /// <summary>Any address, for LEA and hint NOPs which compute but never access it.</summary>
        private MemoryOperand AnyAddress()
        {
            if (v.Chance(10))
            {
                return new MemoryOperand(Register.RIP, Register.None, 1, (long)Layout.Data + v.Next(-4096, 4096), 8);
            }

            bool addr32 = v.Chance(15);
            Register b = v.Chance(85) ? Register.RAX + v.Next(16) : Register.None;
            Register x = Register.None;
            if (v.Chance(50))
            {
                do
                {
                    x = Register.RAX + v.Next(16);
                }
                while (x == Register.RSP);
            }

            if (addr32)
            {
                b = b == Register.None ? b : OperandFactory.Sized(b, 32);
                x = x == Register.None ? x : OperandFactory.Sized(x, 32);
            }

            long disp = v.Chance(50) ? v.Next(-128, 128) : (int)v.Immediate(32, signExtend: true);
            return Mem(b, x, 1 << v.Next(4), disp);
        }

        private static MemoryOperand Mem(Register b, Register x, int scale, long disp)
        {
            int displSize = disp is >= sbyte.MinValue and <= sbyte.MaxValue && b != Register.None ? 1 : 4;
            return new MemoryOperand(b, x, x == Register.None ? 1 : scale, disp, displSize);
        }

        /// <summary>BSF/BSR leave the destination undefined for a zero source: set a bit of it first with BTS.</summary>
        private bool MakeSourceNonZero(OpCodeInfo op, Operand src)
        {
            int bits = OperandFactory.Bits(op.GetOpKind(1));
            Code bts = bits switch
            {
                16 => Code.Bts_rm16_imm8,
                32 => Code.Bts_rm32_imm8,
                _ => Code.Bts_rm64_imm8,
            };
            int bit = v.Next(bits);
            if (src.Form == OperandForm.Memory)
            {
                return state.TryEmit(Instruction.Create(bts, src.Memory, bit));
            }

            Register full = src.Register.GetFullRegister();
            if (state.IsReserved(full))
            {
                ulong? known = state.Known(full);
                ulong mask = bits == 64 ? ulong.MaxValue : (1UL << bits) - 1;
                return known is { } k && (k & mask) != 0;
            }

            return state.TryEmit(Instruction.Create(bts, src.Register, bit));
        }

        /// <summary>BT/BTS/BTR/BTC m, r: the register is a signed bit offset that can reach far from the operand (SDM Vol. 2A BT).</summary>
        private bool BitOffsetGadget(Code code, Operand[] ops)
        {
            Register offsetReg = ops[1].Register;
            Register full = offsetReg.GetFullRegister();
            if (state.IsReserved(full))
            {
                return false;
            }

            int bits = OperandFactory.Bits(code.ToOpCode().GetOpKind(0));
            int bytes = bits / 8;

            // Operand in the middle of the buffer, offset within ±1 KiB of it (±8192 bits fits in 16 bits).
            ulong ea = Layout.Data + 0x600 + (ulong)v.Next(0x400);
            long offset = v.Next(-8192, 8192);
            long reach = (long)ea + ((offset >> 3) & ~(long)(bytes - 1));
            if (reach - bytes < (long)Layout.Data || reach + (2 * bytes) > (long)Layout.Data + SandboxLayout.DataSize)
            {
                return false;
            }

            MemoryOperand mem = ops[0].Memory;
            ulong? b = state.Known(state.BaseRegister);
            mem = b is { } bv && v.Chance(70)
                ? Mem(state.BaseRegister, Register.None, 1, (long)ea - (long)bv)
                : Mem(Register.None, Register.None, 1, (long)ea);
            Require(state.TryEmit(Instruction.Create(Code.Mov_r64_imm64, full, (ulong)offset)));
            var instr = Instruction.Create(code, mem, offsetReg);
            if (code.ToOpCode().CanUseLockPrefix && v.Chance(20))
            {
                instr.HasLockPrefix = true;
            }

            return state.TryEmit(instr);
        }

        /// <summary>DIV/IDIV with a dividend and divisor chosen so the quotient fits (no #DE natively).</summary>
        private bool DivideGadget(Code code, Operand divisorOperand)
        {
            int bits = OperandFactory.Bits(code.ToOpCode().GetOpKind(0));
            bool signed = code.Mnemonic() == Mnemonic.Idiv;
            if (!PickDivision(bits, signed, out ulong hi, out ulong lo, out ulong divisor))
            {
                return false;
            }

            // The divisor goes through a scratch register that is neither RAX nor RDX.
            Register scratch;
            do
            {
                scratch = Register.RAX + v.Next(16);
            }
            while (scratch is Register.RAX or Register.RDX || state.IsReserved(scratch));

            Register sized = OperandFactory.Sized(scratch, bits);
            if (bits == 8 && v.Chance(30) && scratch is Register.RCX or Register.RBX)
            {
                sized = scratch == Register.RCX ? Register.CH : Register.BH; // high-byte divisor
            }

            Require(state.TryEmit(MovImm(sized, divisor)));
            Operand operand = divisorOperand;
            if (divisorOperand.Form == OperandForm.Memory)
            {
                Code store = bits switch
                {
                    8 => Code.Mov_rm8_r8,
                    16 => Code.Mov_rm16_r16,
                    32 => Code.Mov_rm32_r32,
                    _ => Code.Mov_rm64_r64,
                };
                if (!state.TryEmit(Instruction.Create(store, divisorOperand.Memory, sized)))
                {
                    return false;
                }
            }
            else
            {
                operand = Operand.Reg(sized, divisorOperand.Kind);
            }

            if (bits == 8)
            {
                Require(state.TryEmit(MovImm(Register.AX, (hi << 8) | lo)));
            }
            else
            {
                Require(state.TryEmit(MovImm(OperandFactory.Sized(Register.RAX, bits), lo)));
                Require(state.TryEmit(MovImm(OperandFactory.Sized(Register.RDX, bits), hi)));
            }

            return state.TryEmit(OperandFactory.Build(code, [operand]));
        }

        private bool PickDivision(int bits, bool signed, out ulong hi, out ulong lo, out ulong divisor)
        {
            ulong mask = bits == 64 ? ulong.MaxValue : (1UL << bits) - 1;
            for (int attempt = 0; attempt < 16; attempt++)
            {
                divisor = v.Register() & mask;
                lo = v.Register() & mask;
                if (divisor == 0)
                {
                    continue;
                }

                if (!signed)
                {
                    // Any high half below the divisor keeps the quotient within the operand size.
                    int pick = v.Next(4);
                    hi = pick switch
                    {
                        0 => 0,
                        1 => divisor - 1,
                        _ => (v.Register() & mask) % divisor,
                    };
                    return true;
                }

                // Signed: either the sign extension of the low half (CQO and friends) or a random high half.
                bool negative = (lo & (1UL << (bits - 1))) != 0;
                hi = v.Chance(60) ? (negative ? mask : 0) : v.Register() & mask;
                if (QuotientFits(bits, hi, lo, divisor))
                {
                    return true;
                }

                hi = negative ? mask : 0;
                if (QuotientFits(bits, hi, lo, divisor))
                {
                    return true;
                }
            }

            hi = lo = divisor = 0;
            return false;
        }

        /// <summary>IDIV's #DE test, one step more conservative than the SDM at the negative end.</summary>
        private static bool QuotientFits(int bits, ulong hi, ulong lo, ulong divisor)
        {
            UInt128 raw = ((UInt128)hi << bits) | lo;
            int unused = 128 - (2 * bits);
            var dividend = (Int128)(raw << unused) >> unused;
            var d = (Int128)((UInt128)divisor << (128 - bits)) >> (128 - bits);
            Int128 q = dividend / d;
            Int128 max = (Int128.One << (bits - 1)) - 1;
            return q <= max && q >= -max;
        }

        private static Instruction MovImm(Register r, ulong value) => r.GetSize() switch
        {
            1 => Instruction.Create(Code.Mov_r8_imm8, r, (int)(value & 0xFF)),
            2 => Instruction.Create(Code.Mov_r16_imm16, r, (int)(value & 0xFFFF)),
            4 => Instruction.Create(Code.Mov_r32_imm32, r, (uint)value),
            _ => Instruction.Create(Code.Mov_r64_imm64, r, value),
        };

        /// <summary>A forward Jcc/JMP to a later gadget boundary (or the end of the sequence).</summary>
        private bool BranchGadget()
        {
            int target = Math.Min(gadgets, _gadget + 1 + v.Next(3));
            Code code = v.Pick(JccCodes);
            ulong id = (ulong)target + 1;
            Instruction branch = Instruction.CreateBranch(code, id);
            if (!EmitWithDefinedFlags(branch))
            {
                return false;
            }

            GeneratorState.Snapshot taken = state.Save();
            if (_labels.TryGetValue(target, out (ulong Id, GeneratorState.Snapshot State) existing))
            {
                _labels[target] = (existing.Id, Union(existing.State, taken));
            }
            else
            {
                _labels[target] = (id, taken);
            }

            return true;
        }

        private static GeneratorState.Snapshot Union(GeneratorState.Snapshot a, GeneratorState.Snapshot b)
        {
            var known = new ulong?[a.Known.Length];
            for (int i = 0; i < known.Length; i++)
            {
                known[i] = a.Known[i] == b.Known[i] ? a.Known[i] : null;
            }

            return new GeneratorState.Snapshot(a.Count, a.Undefined | b.Undefined, a.Direction, known);
        }

        /// <summary>MOVS/STOS/LODS/CMPS/SCAS, optionally REP/REPE/REPNE, optionally backwards (STD ... CLD).</summary>
        private bool StringGadget()
        {
            int kind = v.Next(5); // movs, stos, lods, cmps, scas
            int sizeLog = v.Next(4);
            int size = 1 << sizeLog;
            bool rep = v.Chance(70);
            RepPrefixKind prefix = RepPrefixKind.None;
            if (rep)
            {
                prefix = kind >= 3 ? (v.Chance(50) ? RepPrefixKind.Repe : RepPrefixKind.Repne) : RepPrefixKind.Repe;
            }

            int count = rep ? v.Next(17) : 1;
            bool backward = v.Chance(15);
            bool usesSi = kind is 0 or 2 or 3;
            bool usesDi = kind is 0 or 1 or 3 or 4;
            int span = Math.Max(count, 1) * size;
            if (usesSi)
            {
                Require(state.TryEmit(MovImm(Register.ESI, StringStart(span, size, backward))));
            }

            if (usesDi)
            {
                Require(state.TryEmit(MovImm(Register.EDI, StringStart(span, size, backward))));
            }

            if (rep)
            {
                Require(state.TryEmit(MovImm(Register.ECX, (ulong)count)));
            }

            if (backward)
            {
                Require(state.TryEmit(Instruction.Create(Code.Std)));
            }

            Instruction instr = (kind, sizeLog) switch
            {
                (0, 0) => Instruction.CreateMovsb(64, Register.None, prefix),
                (0, 1) => Instruction.CreateMovsw(64, Register.None, prefix),
                (0, 2) => Instruction.CreateMovsd(64, Register.None, prefix),
                (0, _) => Instruction.CreateMovsq(64, Register.None, prefix),
                (1, 0) => Instruction.CreateStosb(64, prefix),
                (1, 1) => Instruction.CreateStosw(64, prefix),
                (1, 2) => Instruction.CreateStosd(64, prefix),
                (1, _) => Instruction.CreateStosq(64, prefix),
                (2, 0) => Instruction.CreateLodsb(64, Register.None, prefix),
                (2, 1) => Instruction.CreateLodsw(64, Register.None, prefix),
                (2, 2) => Instruction.CreateLodsd(64, Register.None, prefix),
                (2, _) => Instruction.CreateLodsq(64, Register.None, prefix),
                (3, 0) => Instruction.CreateCmpsb(64, Register.None, prefix),
                (3, 1) => Instruction.CreateCmpsw(64, Register.None, prefix),
                (3, 2) => Instruction.CreateCmpsd(64, Register.None, prefix),
                (3, _) => Instruction.CreateCmpsq(64, Register.None, prefix),
                (_, 0) => Instruction.CreateScasb(64, prefix),
                (_, 1) => Instruction.CreateScasw(64, prefix),
                (_, 2) => Instruction.CreateScasd(64, prefix),
                _ => Instruction.CreateScasq(64, prefix),
            };

            // A repeated compare that runs zero times leaves the flags as they were.
            (ulong, ulong)? flags = kind >= 3 && rep && count == 0 ? (0, 0) : null;
            Require(state.TryEmit(instr, flags));
            if (backward)
            {
                Require(state.TryEmit(Instruction.Create(Code.Cld)));
            }

            return true;
        }

        private ulong StringStart(int span, int size, bool backward)
        {
            int room = SandboxLayout.DataSize - span;
            ulong start = Layout.Data + (ulong)v.Next(room + 1);
            return backward ? start + (ulong)(span - size) : start;
        }

        /// <summary>PUSH imm; POPF/POPFQ with only status flags changed (never TF, AC, DF or IF).</summary>
        private bool PopfGadget()
        {
            ulong value = owner._fixedRflags | ((ulong)v.Next(0x1000) & X86Flags.Status);
            bool wide = v.Chance(75);
            Instruction push = wide ? Instruction.Create(Code.Pushq_imm32, (int)value) : Instruction.Create(Code.Push_imm16, (int)(value & 0xFFFF));
            if (!state.TryEmit(push))
            {
                return false;
            }

            return state.TryEmit(Instruction.Create(wide ? Code.Popfq : Code.Popfw), (X86Flags.Status, 0));
        }
    }
}
