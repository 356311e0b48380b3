using Iced.Intel;
using TdxSim.Cpu.Exec;

namespace TdxSim.Cpu.Decode;

/// <summary>Integer arithmetic, logic, shifts, bit operations, multiplication and division.</summary>
internal static unsafe partial class Translator
{
    private enum Form
    {
        RR,
        RI,
        RM,
        MR,
        MI,
        MRLock,
        MILock,
    }

    private static bool Binary<TOp>(in Instruction i, ref Op op, ref Translation t)
        where TOp : struct, IBinaryOp
    {
        int w = Width(in i, 0);
        OpKind k0 = i.Op0Kind, k1 = i.Op1Kind;
        Form form;
        if (k0 == OpKind.Register)
        {
            op.Dst = RegOff(i.Op0Register);
            if (k1 == OpKind.Register)
            {
                op.Src = RegOff(i.Op1Register);
                form = Form.RR;
            }
            else if (IsImmediate(k1))
            {
                op.Imm = i.GetImmediate(1);
                form = Form.RI;
            }
            else if (k1 == OpKind.Memory && Memory(in i, ref op))
            {
                form = Form.RM;
            }
            else
            {
                return false;
            }
        }
        else if (k0 == OpKind.Memory && Memory(in i, ref op))
        {
            if (k1 == OpKind.Register)
            {
                op.Src = RegOff(i.Op1Register);
                form = i.HasLockPrefix ? Form.MRLock : Form.MR;
            }
            else if (IsImmediate(k1))
            {
                op.Imm = i.GetImmediate(1);
                form = i.HasLockPrefix ? Form.MILock : Form.MI;
            }
            else
            {
                return false;
            }
        }
        else
        {
            return false;
        }

        t.Precise = AluHandler<TOp, FlagsOn>(form, w);
        if (form is Form.RR or Form.RI)
        {
            t.Fast = AluHandler<TOp, FlagsOff>(form, w);
        }
        else
        {
            t.Barrier = true;
        }

        return t.Precise != null;
    }

    private static delegate*<CpuCore*, Op*, int> AluHandler<TOp, F>(Form form, int w)
        where TOp : struct, IBinaryOp
        where F : struct, IFlagMode => form switch
        {
            Form.RR => w switch { 1 => &Alu.RR<byte, TOp, F>, 2 => &Alu.RR<ushort, TOp, F>, 4 => &Alu.RR<uint, TOp, F>, _ => &Alu.RR<ulong, TOp, F> },
            Form.RI => w switch { 1 => &Alu.RI<byte, TOp, F>, 2 => &Alu.RI<ushort, TOp, F>, 4 => &Alu.RI<uint, TOp, F>, _ => &Alu.RI<ulong, TOp, F> },
            Form.RM => w switch { 1 => &Alu.RM<byte, TOp, F>, 2 => &Alu.RM<ushort, TOp, F>, 4 => &Alu.RM<uint, TOp, F>, _ => &Alu.RM<ulong, TOp, F> },
            Form.MR => w switch { 1 => &Alu.MR<byte, TOp, F>, 2 => &Alu.MR<ushort, TOp, F>, 4 => &Alu.MR<uint, TOp, F>, _ => &Alu.MR<ulong, TOp, F> },
            Form.MI => w switch { 1 => &Alu.MI<byte, TOp, F>, 2 => &Alu.MI<ushort, TOp, F>, 4 => &Alu.MI<uint, TOp, F>, _ => &Alu.MI<ulong, TOp, F> },
            Form.MRLock => w switch { 1 => &Alu.MRLock<byte, TOp, F>, 2 => &Alu.MRLock<ushort, TOp, F>, 4 => &Alu.MRLock<uint, TOp, F>, _ => &Alu.MRLock<ulong, TOp, F> },
            _ => w switch { 1 => &Alu.MILock<byte, TOp, F>, 2 => &Alu.MILock<ushort, TOp, F>, 4 => &Alu.MILock<uint, TOp, F>, _ => &Alu.MILock<ulong, TOp, F> },
        };

    private static bool UnaryForm<TOp>(in Instruction i, ref Op op, ref Translation t)
        where TOp : struct, IUnaryOp
    {
        int w = Width(in i, 0);
        if (i.Op0Kind == OpKind.Register)
        {
            op.Dst = RegOff(i.Op0Register);
            t.Precise = w switch { 1 => &Unary.R<byte, TOp, FlagsOn>, 2 => &Unary.R<ushort, TOp, FlagsOn>, 4 => &Unary.R<uint, TOp, FlagsOn>, _ => &Unary.R<ulong, TOp, FlagsOn> };
            t.Fast = w switch { 1 => &Unary.R<byte, TOp, FlagsOff>, 2 => &Unary.R<ushort, TOp, FlagsOff>, 4 => &Unary.R<uint, TOp, FlagsOff>, _ => &Unary.R<ulong, TOp, FlagsOff> };
            return true;
        }

        if (i.Op0Kind != OpKind.Memory || !Memory(in i, ref op))
        {
            return false;
        }

        t.Barrier = true;
        t.Precise = i.HasLockPrefix
            ? w switch { 1 => &Unary.MLock<byte, TOp, FlagsOn>, 2 => &Unary.MLock<ushort, TOp, FlagsOn>, 4 => &Unary.MLock<uint, TOp, FlagsOn>, _ => &Unary.MLock<ulong, TOp, FlagsOn> }
            : w switch { 1 => &Unary.M<byte, TOp, FlagsOn>, 2 => &Unary.M<ushort, TOp, FlagsOn>, 4 => &Unary.M<uint, TOp, FlagsOn>, _ => &Unary.M<ulong, TOp, FlagsOn> };
        return true;
    }

    /// <summary>Shifts and rotates: count from CL (Aux = 1), an immediate, or the implicit 1.</summary>
    private static bool ShiftForm<TOp>(in Instruction i, ref Op op, ref Translation t, bool rotate)
        where TOp : struct, IShiftOp
    {
        int w = Width(in i, 0);
        if (!ShiftCount(in i, ref op, ref t, 1, w))
        {
            return false;
        }

        if (rotate && (op.Aux == 1 || (op.Imm & (w == 8 ? 63UL : 31UL)) != 1))
        {
            // OF is defined only for 1-bit rotates; the liveness pass may treat it as overwritten either way, but a
            // rotate never writes SF/ZF/AF/PF, so only CF/OF can be killed.
            t.Kill &= Flags.Cf | Of;
        }

        if (i.Op0Kind == OpKind.Register)
        {
            op.Dst = RegOff(i.Op0Register);
            t.Precise = w switch { 1 => &Shift.R<byte, TOp, FlagsOn>, 2 => &Shift.R<ushort, TOp, FlagsOn>, 4 => &Shift.R<uint, TOp, FlagsOn>, _ => &Shift.R<ulong, TOp, FlagsOn> };
            t.Fast = w switch { 1 => &Shift.R<byte, TOp, FlagsOff>, 2 => &Shift.R<ushort, TOp, FlagsOff>, 4 => &Shift.R<uint, TOp, FlagsOff>, _ => &Shift.R<ulong, TOp, FlagsOff> };
            return true;
        }

        if (i.Op0Kind != OpKind.Memory || !Memory(in i, ref op))
        {
            return false;
        }

        t.Barrier = true;
        t.Precise = w switch { 1 => &Shift.M<byte, TOp, FlagsOn>, 2 => &Shift.M<ushort, TOp, FlagsOn>, 4 => &Shift.M<uint, TOp, FlagsOn>, _ => &Shift.M<ulong, TOp, FlagsOn> };
        return true;
    }

    /// <summary>Reads the count operand; a count from CL (or an immediate count masked to 0) may leave the flags
    /// untouched, so such an instruction kills no flag in the liveness pass.</summary>
    private static bool ShiftCount(in Instruction i, ref Op op, ref Translation t, int operand, int width)
    {
        OpKind k = i.GetOpKind(operand);
        if (k == OpKind.Register && i.GetOpRegister(operand) == Register.CL)
        {
            op.Aux = 1;
            t.Kill = 0;
            return true;
        }

        if (!IsImmediate(k))
        {
            return false;
        }

        op.Imm = i.GetImmediate(operand);
        if ((op.Imm & (width == 8 ? 63UL : 31UL)) == 0)
        {
            t.Kill = 0;
        }

        return true;
    }

    private static bool DoubleShift(in Instruction i, ref Op op, ref Translation t, bool right)
    {
        int w = Width(in i, 0);
        if (i.Op1Kind != OpKind.Register || !ShiftCount(in i, ref op, ref t, 2, w))
        {
            return false;
        }

        op.Src = RegOff(i.Op1Register);
        op.Aux3 = right ? 1 : 0;
        if (i.Op0Kind == OpKind.Register)
        {
            op.Dst = RegOff(i.Op0Register);
            t.Precise = w switch { 2 => &Shift.DoubleR<ushort, FlagsOn>, 4 => &Shift.DoubleR<uint, FlagsOn>, _ => &Shift.DoubleR<ulong, FlagsOn> };
            t.Fast = w switch { 2 => &Shift.DoubleR<ushort, FlagsOff>, 4 => &Shift.DoubleR<uint, FlagsOff>, _ => &Shift.DoubleR<ulong, FlagsOff> };
            return true;
        }

        if (i.Op0Kind != OpKind.Memory || !Memory(in i, ref op))
        {
            return false;
        }

        t.Barrier = true;
        t.Precise = w switch { 2 => &Shift.DoubleM<ushort, FlagsOn>, 4 => &Shift.DoubleM<uint, FlagsOn>, _ => &Shift.DoubleM<ulong, FlagsOn> };
        return true;
    }

    private static bool BitTest<TOp>(in Instruction i, ref Op op, ref Translation t)
        where TOp : struct, IBitTestOp
    {
        int w = Width(in i, 0);
        if (i.Op1Kind == OpKind.Register)
        {
            op.Src = RegOff(i.Op1Register);
            op.Aux = 1;
        }
        else if (IsImmediate(i.Op1Kind))
        {
            op.Imm = i.GetImmediate(1);
        }
        else
        {
            return false;
        }

        if (i.Op0Kind == OpKind.Register)
        {
            op.Dst = RegOff(i.Op0Register);
            t.Precise = w switch { 2 => &BitOps.TestR<ushort, TOp>, 4 => &BitOps.TestR<uint, TOp>, _ => &BitOps.TestR<ulong, TOp> };
            return true;
        }

        if (i.Op0Kind != OpKind.Memory || !Memory(in i, ref op))
        {
            return false;
        }

        t.Barrier = true;
        t.Precise = i.HasLockPrefix
            ? w switch { 2 => &BitOps.TestMLock<ushort, TOp>, 4 => &BitOps.TestMLock<uint, TOp>, _ => &BitOps.TestMLock<ulong, TOp> }
            : w switch { 2 => &BitOps.TestM<ushort, TOp>, 4 => &BitOps.TestM<uint, TOp>, _ => &BitOps.TestM<ulong, TOp> };
        return true;
    }

    private static bool Scan<TOp>(in Instruction i, ref Op op, ref Translation t)
        where TOp : struct, IScanOp
    {
        int w = Width(in i, 0);
        op.Dst = RegOff(i.Op0Register);
        if (i.Op1Kind == OpKind.Register)
        {
            op.Src = RegOff(i.Op1Register);
            t.Precise = w switch { 2 => &BitOps.ScanR<ushort, TOp>, 4 => &BitOps.ScanR<uint, TOp>, _ => &BitOps.ScanR<ulong, TOp> };
            return true;
        }

        if (i.Op1Kind != OpKind.Memory || !Memory(in i, ref op))
        {
            return false;
        }

        t.Barrier = true;
        t.Precise = w switch { 2 => &BitOps.ScanM<ushort, TOp>, 4 => &BitOps.ScanM<uint, TOp>, _ => &BitOps.ScanM<ulong, TOp> };
        return true;
    }

    /// <summary>One-operand MUL/IMUL/DIV/IDIV.</summary>
    private static bool MulDiv(in Instruction i, ref Op op, ref Translation t, bool div, bool signed)
    {
        int w = Width(in i, 0);
        bool reg = i.Op0Kind == OpKind.Register;
        if (reg)
        {
            op.Src = RegOff(i.Op0Register);
        }
        else if (i.Op0Kind != OpKind.Memory || !Memory(in i, ref op))
        {
            return false;
        }

        // Division may raise #DE, so it is a liveness barrier; a memory source may fault too.
        t.Barrier = div || !reg;
        if (div)
        {
            t.Precise = (signed, reg) switch
            {
                (false, true) => w switch { 1 => &MulDivOps.DivR<byte, FlagsOff>, 2 => &MulDivOps.DivR<ushort, FlagsOff>, 4 => &MulDivOps.DivR<uint, FlagsOff>, _ => &MulDivOps.DivR<ulong, FlagsOff> },
                (false, false) => w switch { 1 => &MulDivOps.DivM<byte, FlagsOff>, 2 => &MulDivOps.DivM<ushort, FlagsOff>, 4 => &MulDivOps.DivM<uint, FlagsOff>, _ => &MulDivOps.DivM<ulong, FlagsOff> },
                (true, true) => w switch { 1 => &MulDivOps.DivR<byte, FlagsOn>, 2 => &MulDivOps.DivR<ushort, FlagsOn>, 4 => &MulDivOps.DivR<uint, FlagsOn>, _ => &MulDivOps.DivR<ulong, FlagsOn> },
                (true, false) => w switch { 1 => &MulDivOps.DivM<byte, FlagsOn>, 2 => &MulDivOps.DivM<ushort, FlagsOn>, 4 => &MulDivOps.DivM<uint, FlagsOn>, _ => &MulDivOps.DivM<ulong, FlagsOn> },
            };

            // DIV/IDIV leave all six flags undefined: nothing is guaranteed to survive, nothing is written here.
            t.Kill = 0;
        }
        else
        {
            t.Precise = (signed, reg) switch
            {
                (false, true) => w switch { 1 => &MulDivOps.MulR<byte, FlagsOff>, 2 => &MulDivOps.MulR<ushort, FlagsOff>, 4 => &MulDivOps.MulR<uint, FlagsOff>, _ => &MulDivOps.MulR<ulong, FlagsOff> },
                (false, false) => w switch { 1 => &MulDivOps.MulM<byte, FlagsOff>, 2 => &MulDivOps.MulM<ushort, FlagsOff>, 4 => &MulDivOps.MulM<uint, FlagsOff>, _ => &MulDivOps.MulM<ulong, FlagsOff> },
                (true, true) => w switch { 1 => &MulDivOps.MulR<byte, FlagsOn>, 2 => &MulDivOps.MulR<ushort, FlagsOn>, 4 => &MulDivOps.MulR<uint, FlagsOn>, _ => &MulDivOps.MulR<ulong, FlagsOn> },
                (true, false) => w switch { 1 => &MulDivOps.MulM<byte, FlagsOn>, 2 => &MulDivOps.MulM<ushort, FlagsOn>, 4 => &MulDivOps.MulM<uint, FlagsOn>, _ => &MulDivOps.MulM<ulong, FlagsOn> },
            };

            // Only CF and OF are written; SF, ZF, AF, PF are undefined and keep their values here.
            t.Kill &= Flags.Cf | Of;
        }

        return true;
    }

    /// <summary>IMUL r, r/m and IMUL r, r/m, imm.</summary>
    private static bool Imul(in Instruction i, ref Op op, ref Translation t)
    {
        int w = Width(in i, 0);
        op.Dst = RegOff(i.Op0Register);
        if (i.OpCount == 3)
        {
            op.Imm = i.GetImmediate(2);
            op.Aux3 = 1;
        }

        t.Kill &= Flags.Cf | Of;
        if (i.Op1Kind == OpKind.Register)
        {
            op.Src = RegOff(i.Op1Register);
            t.Precise = w switch { 2 => &MulDivOps.ImulR<ushort>, 4 => &MulDivOps.ImulR<uint>, _ => &MulDivOps.ImulR<ulong> };
            return true;
        }

        if (i.Op1Kind != OpKind.Memory || !Memory(in i, ref op))
        {
            return false;
        }

        t.Barrier = true;
        t.Precise = w switch { 2 => &MulDivOps.ImulM<ushort>, 4 => &MulDivOps.ImulM<uint>, _ => &MulDivOps.ImulM<ulong> };
        return true;
    }
}
