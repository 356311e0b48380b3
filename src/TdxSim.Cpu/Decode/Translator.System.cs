using Iced.Intel;
using TdxSim.Cpu.Exec;

namespace TdxSim.Cpu.Decode;

/// <summary>Control-register, descriptor-table, segment-register and far-return instructions (<see cref="PrivilegedOps"/>).</summary>
internal static unsafe partial class Translator
{
    private static bool IsControlRegister(Register r) => r is >= Register.CR0 and <= Register.CR15;

    /// <summary>MOV with a control or segment register operand; false when neither is involved (an ordinary MOV).</summary>
    private static bool IsDebugRegister(Register r) => r is >= Register.DR0 and <= Register.DR15;

    private static bool IsSystemMov(in Instruction i) =>
        (i.Op0Kind == OpKind.Register && (IsControlRegister(i.Op0Register) || IsDebugRegister(i.Op0Register) || i.Op0Register.IsSegmentRegister()))
        || (i.Op1Kind == OpKind.Register && (IsControlRegister(i.Op1Register) || IsDebugRegister(i.Op1Register) || i.Op1Register.IsSegmentRegister()));

    private static bool SystemMov(in Instruction i, ref Op op, ref Translation t)
    {
        t.Barrier = true;
        if (i.Op0Kind == OpKind.Register && IsDebugRegister(i.Op0Register))
        {
            op.Aux = (byte)(i.Op0Register - Register.DR0);
            op.Src = RegOff(i.Op1Register);
            t.Precise = &PrivilegedOps.MovToDr;
            return op.Aux is <= 3 or 6 or 7;
        }

        if (i.Op1Kind == OpKind.Register && IsDebugRegister(i.Op1Register))
        {
            op.Aux = (byte)(i.Op1Register - Register.DR0);
            op.Dst = RegOff(i.Op0Register);
            t.Precise = &PrivilegedOps.MovFromDr;
            return op.Aux is <= 3 or 6 or 7;
        }

        if (i.Op0Kind == OpKind.Register && IsControlRegister(i.Op0Register))
        {
            int n = i.Op0Register - Register.CR0;
            if (n is not (0 or 2 or 3 or 4 or 8) || !IsGpr(i.Op1Register))
            {
                return false;
            }

            op.Aux = (byte)n;
            op.Src = RegOff(i.Op1Register);
            t.Precise = &PrivilegedOps.MovToCr;

            // A control-register write may change how code runs: leave the block.
            t.Ends = true;
            return true;
        }

        if (i.Op1Kind == OpKind.Register && IsControlRegister(i.Op1Register))
        {
            int n = i.Op1Register - Register.CR0;
            if (n is not (0 or 2 or 3 or 4 or 8) || !IsGpr(i.Op0Register))
            {
                return false;
            }

            op.Aux = (byte)n;
            op.Dst = RegOff(i.Op0Register);
            t.Precise = &PrivilegedOps.MovFromCr;
            return true;
        }

        if (i.Op0Kind == OpKind.Register && i.Op0Register.IsSegmentRegister())
        {
            if (i.Op0Register == Register.CS)
            {
                return false;
            }

            op.Aux = (byte)(i.Op0Register - Register.ES);
            if (i.Op1Kind == OpKind.Register && IsGpr(i.Op1Register))
            {
                op.Src = RegOff(i.Op1Register);
                op.Aux3 = 0;
            }
            else if (i.Op1Kind == OpKind.Memory && Memory(in i, ref op))
            {
                op.Aux3 = 1;
            }
            else
            {
                return false;
            }

            t.Precise = &PrivilegedOps.MovToSreg;
            return true;
        }

        op.Aux = (byte)(i.Op1Register - Register.ES);
        if (i.Op0Kind == OpKind.Register && IsGpr(i.Op0Register))
        {
            op.Dst = RegOff(i.Op0Register);
            op.Imm = (ulong)i.Op0Register.GetSize();
            op.Aux3 = 0;
        }
        else if (i.Op0Kind == OpKind.Memory && Memory(in i, ref op))
        {
            op.Aux3 = 1;
        }
        else
        {
            return false;
        }

        t.Precise = &PrivilegedOps.MovFromSreg;
        return true;
    }

    /// <summary>LGDT, LIDT (Aux 0/1, load) and SGDT, SIDT (store): a 10-byte memory operand in 64-bit mode.</summary>
    private static bool DescriptorTable(in Instruction i, ref Op op, ref Translation t, byte which, bool load)
    {
        if (i.Op0Kind != OpKind.Memory || !Memory(in i, ref op))
        {
            return false;
        }

        op.Aux = which;
        t.Barrier = true;
        t.Precise = load ? &PrivilegedOps.LoadDescriptorTable : &PrivilegedOps.StoreDescriptorTable;
        return true;
    }

    /// <summary>RETF / LRETQ, with or without imm16.</summary>
    private static bool FarReturn(in Instruction i, ref Op op, ref Translation t)
    {
        switch (i.Code)
        {
            case Code.Retfq: op.Aux = 8; op.Imm = 0; break;
            case Code.Retfq_imm16: op.Aux = 8; op.Imm = i.Immediate16; break;
            case Code.Retfd: op.Aux = 4; op.Imm = 0; break;
            case Code.Retfd_imm16: op.Aux = 4; op.Imm = i.Immediate16; break;
            default: return false;
        }

        t.Ends = t.Barrier = true;
        t.Precise = &PrivilegedOps.FarReturn;
        return true;
    }
}
