using Iced.Intel;
using TdxSim.Cpu.Exec;

namespace TdxSim.Cpu.Decode;

/// <summary>Data movement, exchange, atomics and the stack.</summary>
internal static unsafe partial class Translator
{
    private static bool Mov(in Instruction i, ref Op op, ref Translation t)
    {
        OpKind k0 = i.Op0Kind, k1 = i.Op1Kind;
        int w = Width(in i, 0);
        if (k0 == OpKind.Register)
        {
            if (!IsGpr(i.Op0Register))
            {
                return false;
            }

            op.Dst = RegOff(i.Op0Register);
            if (k1 == OpKind.Register)
            {
                if (!IsGpr(i.Op1Register))
                {
                    return false;
                }

                op.Src = RegOff(i.Op1Register);
                t.Precise = w switch { 1 => &MovOps.RR<byte>, 2 => &MovOps.RR<ushort>, 4 => &MovOps.RR<uint>, _ => &MovOps.RR<ulong> };
                return true;
            }

            if (IsImmediate(k1))
            {
                op.Imm = i.GetImmediate(1);
                t.Precise = w switch { 1 => &MovOps.RI<byte>, 2 => &MovOps.RI<ushort>, 4 => &MovOps.RI<uint>, _ => &MovOps.RI<ulong> };
                return true;
            }

            if (k1 == OpKind.Memory && Memory(in i, ref op))
            {
                t.Barrier = true;
                t.Precise = w switch { 1 => &MovOps.RM<byte>, 2 => &MovOps.RM<ushort>, 4 => &MovOps.RM<uint>, _ => &MovOps.RM<ulong> };
                return true;
            }

            return false;
        }

        if (k0 != OpKind.Memory || !Memory(in i, ref op))
        {
            return false;
        }

        t.Barrier = true;
        if (k1 == OpKind.Register && IsGpr(i.Op1Register))
        {
            op.Src = RegOff(i.Op1Register);
            t.Precise = w switch { 1 => &MovOps.MR<byte>, 2 => &MovOps.MR<ushort>, 4 => &MovOps.MR<uint>, _ => &MovOps.MR<ulong> };
            return true;
        }

        if (IsImmediate(k1))
        {
            op.Imm = i.GetImmediate(1);
            t.Precise = w switch { 1 => &MovOps.MI<byte>, 2 => &MovOps.MI<ushort>, 4 => &MovOps.MI<uint>, _ => &MovOps.MI<ulong> };
            return true;
        }

        return false;
    }

    /// <summary>MOVZX, MOVSX, MOVSXD.</summary>
    private static bool Extend(in Instruction i, ref Op op, ref Translation t, bool signed)
    {
        int wd = Width(in i, 0);
        int ws = Width(in i, 1);
        op.Dst = RegOff(i.Op0Register);
        bool reg = i.Op1Kind == OpKind.Register;
        if (reg)
        {
            op.Src = RegOff(i.Op1Register);
        }
        else if (i.Op1Kind != OpKind.Memory || !Memory(in i, ref op))
        {
            return false;
        }
        else
        {
            t.Barrier = true;
        }

        t.Precise = signed ? ExtendHandler<FlagsOn>(wd, ws, reg) : ExtendHandler<FlagsOff>(wd, ws, reg);
        return t.Precise != null;
    }

    private static delegate*<CpuCore*, Op*, int> ExtendHandler<TSign>(int wd, int ws, bool reg)
        where TSign : struct, IFlagMode => (wd, ws, reg) switch
        {
            (2, 1, true) => &MovOps.ExtendR<ushort, byte, TSign>,
            (4, 1, true) => &MovOps.ExtendR<uint, byte, TSign>,
            (8, 1, true) => &MovOps.ExtendR<ulong, byte, TSign>,
            (2, 2, true) => &MovOps.ExtendR<ushort, ushort, TSign>,
            (4, 2, true) => &MovOps.ExtendR<uint, ushort, TSign>,
            (8, 2, true) => &MovOps.ExtendR<ulong, ushort, TSign>,
            (4, 4, true) => &MovOps.ExtendR<uint, uint, TSign>,
            (8, 4, true) => &MovOps.ExtendR<ulong, uint, TSign>,
            (2, 1, false) => &MovOps.ExtendM<ushort, byte, TSign>,
            (4, 1, false) => &MovOps.ExtendM<uint, byte, TSign>,
            (8, 1, false) => &MovOps.ExtendM<ulong, byte, TSign>,
            (2, 2, false) => &MovOps.ExtendM<ushort, ushort, TSign>,
            (4, 2, false) => &MovOps.ExtendM<uint, ushort, TSign>,
            (8, 2, false) => &MovOps.ExtendM<ulong, ushort, TSign>,
            (4, 4, false) => &MovOps.ExtendM<uint, uint, TSign>,
            (8, 4, false) => &MovOps.ExtendM<ulong, uint, TSign>,
            _ => null,
        };

    private static bool Lea(in Instruction i, ref Op op, ref Translation t)
    {
        if (i.Op1Kind != OpKind.Memory || !Memory(in i, ref op))
        {
            return false;
        }

        // LEA computes the offset only: no segment base.
        op.Seg = CpuCore.ZeroOffset;
        op.Dst = RegOff(i.Op0Register);
        t.Precise = Width(in i, 0) switch { 2 => &MovOps.Lea<ushort>, 4 => &MovOps.Lea<uint>, _ => &MovOps.Lea<ulong> };
        return true;
    }

    private static bool Xchg(in Instruction i, ref Op op, ref Translation t)
    {
        int w = Width(in i, 0);
        if (i.Op0Kind == OpKind.Register && i.Op1Kind == OpKind.Register)
        {
            op.Dst = RegOff(i.Op0Register);
            op.Src = RegOff(i.Op1Register);
            t.Precise = w switch { 1 => &MovOps.XchgRR<byte>, 2 => &MovOps.XchgRR<ushort>, 4 => &MovOps.XchgRR<uint>, _ => &MovOps.XchgRR<ulong> };
            return true;
        }

        // XCHG r/m, r or r, r/m with memory: Dst names the register.
        int memOperand = i.Op0Kind == OpKind.Memory ? 0 : 1;
        if (!Memory(in i, ref op))
        {
            return false;
        }

        op.Dst = RegOff(i.GetOpRegister(1 - memOperand));
        t.Barrier = true;
        t.Precise = w switch { 1 => &MovOps.XchgRM<byte>, 2 => &MovOps.XchgRM<ushort>, 4 => &MovOps.XchgRM<uint>, _ => &MovOps.XchgRM<ulong> };
        return true;
    }

    private static bool Cmpxchg(in Instruction i, ref Op op, ref Translation t)
    {
        int w = Width(in i, 0);
        op.Src = RegOff(i.Op1Register);
        if (i.Op0Kind == OpKind.Register)
        {
            op.Dst = RegOff(i.Op0Register);
            t.Precise = w switch { 1 => &AtomicOps.CmpxchgR<byte>, 2 => &AtomicOps.CmpxchgR<ushort>, 4 => &AtomicOps.CmpxchgR<uint>, _ => &AtomicOps.CmpxchgR<ulong> };
            return true;
        }

        if (!Memory(in i, ref op))
        {
            return false;
        }

        t.Barrier = true;
        t.Precise = w switch { 1 => &AtomicOps.CmpxchgM<byte>, 2 => &AtomicOps.CmpxchgM<ushort>, 4 => &AtomicOps.CmpxchgM<uint>, _ => &AtomicOps.CmpxchgM<ulong> };
        return true;
    }

    private static bool Xadd(in Instruction i, ref Op op, ref Translation t)
    {
        int w = Width(in i, 0);
        op.Src = RegOff(i.Op1Register);
        if (i.Op0Kind == OpKind.Register)
        {
            op.Dst = RegOff(i.Op0Register);
            t.Precise = w switch { 1 => &AtomicOps.XaddR<byte>, 2 => &AtomicOps.XaddR<ushort>, 4 => &AtomicOps.XaddR<uint>, _ => &AtomicOps.XaddR<ulong> };
            return true;
        }

        if (!Memory(in i, ref op))
        {
            return false;
        }

        t.Barrier = true;
        t.Precise = w switch { 1 => &AtomicOps.XaddM<byte>, 2 => &AtomicOps.XaddM<ushort>, 4 => &AtomicOps.XaddM<uint>, _ => &AtomicOps.XaddM<ulong> };
        return true;
    }

    private static bool MemoryOnly(in Instruction i, ref Op op, ref Translation t, delegate*<CpuCore*, Op*, int> handler)
    {
        if (i.Op0Kind != OpKind.Memory || !Memory(in i, ref op))
        {
            return false;
        }

        t.Barrier = true;
        t.Precise = handler;
        return true;
    }

    private static bool Bswap(in Instruction i, ref Op op, ref Translation t)
    {
        op.Dst = RegOff(i.Op0Register);
        t.Precise = Width(in i, 0) switch { 2 => &MovOps.Bswap16, 4 => &MovOps.Bswap32, _ => &MovOps.Bswap64 };
        return true;
    }

    private static bool Push(in Instruction i, ref Op op, ref Translation t)
    {
        t.Barrier = true;
        switch (i.Op0Kind)
        {
            case OpKind.Register when IsGpr(i.Op0Register):
                op.Src = RegOff(i.Op0Register);
                t.Precise = i.Op0Register.GetSize() == 2 ? &StackOps.PushR<ushort> : &StackOps.PushR<ulong>;
                return true;
            case OpKind.Memory when Memory(in i, ref op):
                t.Precise = i.MemorySize.GetSize() == 2 ? &StackOps.PushM<ushort> : &StackOps.PushM<ulong>;
                return true;
            default:
                if (!IsImmediate(i.Op0Kind))
                {
                    return false;
                }

                op.Imm = i.GetImmediate(0);
                t.Precise = i.StackPointerIncrement == -2 ? &StackOps.PushI<ushort> : &StackOps.PushI<ulong>;
                return true;
        }
    }

    private static bool Pop(in Instruction i, ref Op op, ref Translation t)
    {
        t.Barrier = true;
        switch (i.Op0Kind)
        {
            case OpKind.Register when IsGpr(i.Op0Register):
                op.Dst = RegOff(i.Op0Register);
                t.Precise = i.Op0Register.GetSize() == 2 ? &StackOps.PopR<ushort> : &StackOps.PopR<ulong>;
                return true;
            case OpKind.Memory when Memory(in i, ref op):
                t.Precise = i.MemorySize.GetSize() == 2 ? &StackOps.PopM<ushort> : &StackOps.PopM<ulong>;
                return true;
            default:
                return false;
        }
    }

    private static bool Enter(in Instruction i, ref Op op, ref Translation t)
    {
        // Only nesting level 0 (what compilers emit); deeper levels are reported as unsupported.
        if (i.Code != Code.Enterq_imm16_imm8 || i.Immediate8_2nd != 0)
        {
            return false;
        }

        op.Imm = i.Immediate16;
        t.Barrier = true;
        t.Precise = &StackOps.Enter;
        return true;
    }

    /// <summary>SETcc, CMOVcc and Jcc.</summary>
    private static bool Conditional(in Instruction i, ref Op op, ref Translation t)
    {
        int cc = (int)i.ConditionCode - 1;
        string name = MnemonicNames[(int)i.Mnemonic];
        switch (name.StartsWith("Set", StringComparison.Ordinal) ? 1 : name.StartsWith("Cmov", StringComparison.Ordinal) ? 2 : 3)
        {
            case 1:
                if (i.Op0Kind == OpKind.Register)
                {
                    op.Dst = RegOff(i.Op0Register);
                    t.Precise = CondHandler(cc, CondKind.SetR, 1);
                    return true;
                }

                if (!Memory(in i, ref op))
                {
                    return false;
                }

                t.Barrier = true;
                t.Precise = CondHandler(cc, CondKind.SetM, 1);
                return true;
            case 2:
                op.Dst = RegOff(i.Op0Register);
                if (i.Op1Kind == OpKind.Register)
                {
                    op.Src = RegOff(i.Op1Register);
                    t.Precise = CondHandler(cc, CondKind.CmovR, Width(in i, 0));
                    return true;
                }

                if (!Memory(in i, ref op))
                {
                    return false;
                }

                t.Barrier = true;
                t.Precise = CondHandler(cc, CondKind.CmovM, Width(in i, 0));
                return true;
            default:
                if (i.FlowControl != FlowControl.ConditionalBranch || !IsNearBranch(i.Op0Kind))
                {
                    return false;
                }

                op.Imm = i.NearBranchTarget;
                t.Precise = CondHandler(cc, CondKind.Jcc, 0);
                t.Ends = true;
                return true;
        }
    }

    private static readonly string[] MnemonicNames = BuildMnemonicNames();

    private static string[] BuildMnemonicNames()
    {
        Mnemonic[] values = Enum.GetValues<Mnemonic>();
        var names = new string[values.Max(static m => (int)m) + 1];
        foreach (Mnemonic m in values)
        {
            names[(int)m] = m.ToString();
        }

        return names;
    }

    private static bool IsNearBranch(OpKind k) => k is OpKind.NearBranch16 or OpKind.NearBranch32 or OpKind.NearBranch64;
}
