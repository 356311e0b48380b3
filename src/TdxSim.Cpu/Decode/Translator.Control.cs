using Iced.Intel;
using TdxSim.Abi;
using TdxSim.Cpu.Exec;

namespace TdxSim.Cpu.Decode;

/// <summary>Control transfers, condition-code handlers, string and I/O instructions.</summary>
internal static unsafe partial class Translator
{
    private enum CondKind
    {
        Jcc,
        SetR,
        SetM,
        CmovR,
        CmovM,
    }

    private static delegate*<CpuCore*, Op*, int> CondHandler(int cc, CondKind kind, int w) => cc switch
    {
        0 => CondFor<CondO>(kind, w),
        1 => CondFor<CondNo>(kind, w),
        2 => CondFor<CondB>(kind, w),
        3 => CondFor<CondAe>(kind, w),
        4 => CondFor<CondE>(kind, w),
        5 => CondFor<CondNe>(kind, w),
        6 => CondFor<CondBe>(kind, w),
        7 => CondFor<CondA>(kind, w),
        8 => CondFor<CondS>(kind, w),
        9 => CondFor<CondNs>(kind, w),
        10 => CondFor<CondP>(kind, w),
        11 => CondFor<CondNp>(kind, w),
        12 => CondFor<CondL>(kind, w),
        13 => CondFor<CondGe>(kind, w),
        14 => CondFor<CondLe>(kind, w),
        _ => CondFor<CondG>(kind, w),
    };

    private static delegate*<CpuCore*, Op*, int> CondFor<TC>(CondKind kind, int w)
        where TC : struct, ICondition => kind switch
        {
            CondKind.Jcc => &ControlOps.Jcc<TC>,
            CondKind.SetR => &MovOps.SetccR<TC>,
            CondKind.SetM => &MovOps.SetccM<TC>,
            CondKind.CmovR => w switch { 2 => &MovOps.CmovRR<ushort, TC>, 4 => &MovOps.CmovRR<uint, TC>, _ => &MovOps.CmovRR<ulong, TC> },
            _ => w switch { 2 => &MovOps.CmovRM<ushort, TC>, 4 => &MovOps.CmovRM<uint, TC>, _ => &MovOps.CmovRM<ulong, TC> },
        };

    /// <summary>JMP and CALL: direct (target in Imm), register or memory indirect.</summary>
    private static bool Jump(in Instruction i, ref Op op, ref Translation t, bool call)
    {
        t.Ends = true;
        t.Barrier = call;
        if (IsNearBranch(i.Op0Kind))
        {
            op.Imm = i.NearBranchTarget;
            t.Precise = call ? &ControlOps.Call : &ControlOps.Jmp;
            return true;
        }

        if (i.Op0Kind == OpKind.Register && i.Op0Register.GetSize() == 8)
        {
            op.Src = RegOff(i.Op0Register);
            t.Precise = call ? &ControlOps.CallR : &ControlOps.JmpR;
            return true;
        }

        if (i.Op0Kind == OpKind.Memory && i.MemorySize.GetSize() == 8 && Memory(in i, ref op))
        {
            t.Barrier = true;
            t.Precise = call ? &ControlOps.CallM : &ControlOps.JmpM;
            return true;
        }

        // Far transfers and 16-bit near indirect forms are not supported.
        return false;
    }

    private static bool Ret(in Instruction i, ref Op op, ref Translation t)
    {
        if (i.Code == Code.Retnq)
        {
            op.Imm = 0;
        }
        else if (i.Code == Code.Retnq_imm16)
        {
            op.Imm = i.Immediate16;
        }
        else
        {
            return false;
        }

        t.Ends = t.Barrier = true;
        t.Precise = &ControlOps.Ret;
        return true;
    }

    private static bool Loop(in Instruction i, ref Op op, ref Translation t, byte kind)
    {
        op.Imm = i.NearBranchTarget;
        op.Aux = kind;
        op.Aux3 = i.Op1Kind == OpKind.Register && i.Op1Register == Register.ECX ? 1 : 0;
        t.Ends = true;
        t.Precise = &ControlOps.Loop;
        return true;
    }

    private static bool Jrcxz(in Instruction i, ref Op op, ref Translation t, bool ecx)
    {
        op.Imm = i.NearBranchTarget;
        op.Aux3 = ecx ? 1 : 0;
        t.Ends = true;
        t.Precise = &ControlOps.Jrcxz;
        return true;
    }

    /// <summary>IN, OUT, INS, OUTS: a #VE with the I/O exit qualification (reference 3.3).</summary>
    private static bool Io(in Instruction i, ref Op op, ref Translation t)
    {
        bool isIn = i.Mnemonic is Mnemonic.In or Mnemonic.Insb or Mnemonic.Insw or Mnemonic.Insd;
        bool isString = i.Mnemonic is not (Mnemonic.In or Mnemonic.Out);
        int size = i.Mnemonic switch
        {
            Mnemonic.Insb or Mnemonic.Outsb => 1,
            Mnemonic.Insw or Mnemonic.Outsw => 2,
            Mnemonic.Insd or Mnemonic.Outsd => 4,
            Mnemonic.In => i.Op0Register.GetSize(),
            _ => i.Op1Register.GetSize(),
        };
        int portOperand = i.Mnemonic == Mnemonic.In ? 1 : 0;
        bool immediate = !isString && IsImmediate(i.GetOpKind(portOperand));
        if (immediate)
        {
            op.Imm = i.GetImmediate(portOperand);
            op.Aux = 1;
        }

        bool rep = isString && (i.HasRepPrefix || i.HasRepnePrefix);
        op.Disp = (long)IoQualification.Encode(size, isIn, 0, isString, rep, immediate);
        t.Precise = &SystemOps.Io;
        t.Barrier = t.Ends = true;
        return true;
    }

    /// <summary>MOVS, STOS, LODS, CMPS, SCAS in every width, with REP prefixes and 64- or 32-bit addressing.</summary>
    private static bool StringInstruction(in Instruction i, ref Op op, ref Translation t)
    {
        int kind = i.Mnemonic switch
        {
            Mnemonic.Movsb or Mnemonic.Movsw or Mnemonic.Movsd or Mnemonic.Movsq => 0,
            Mnemonic.Stosb or Mnemonic.Stosw or Mnemonic.Stosd or Mnemonic.Stosq => 1,
            Mnemonic.Lodsb or Mnemonic.Lodsw or Mnemonic.Lodsd or Mnemonic.Lodsq => 2,
            Mnemonic.Cmpsb or Mnemonic.Cmpsw or Mnemonic.Cmpsd or Mnemonic.Cmpsq => 3,
            Mnemonic.Scasb or Mnemonic.Scasw or Mnemonic.Scasd or Mnemonic.Scasq => 4,
            _ => -1,
        };
        if (kind < 0 || !IsStringCode(i.Code))
        {
            return false;
        }

        bool addr32 = false;
        for (int n = 0; n < i.OpCount; n++)
        {
            OpKind k = i.GetOpKind(n);
            addr32 |= k is OpKind.MemorySegESI or OpKind.MemoryESEDI;
            if (k is OpKind.MemorySegSI or OpKind.MemorySegDI or OpKind.MemoryESDI)
            {
                return false;
            }
        }

        if (i.MemorySegment is Register.FS or Register.GS && kind is 0 or 2 or 3)
        {
            // A segment override on the source of a string instruction would need a segment base here.
            return false;
        }

        int w = i.Mnemonic.ToString()[^1] switch { 'b' => 1, 'w' => 2, 'd' => 4, _ => 8 };
        op.Aux = (byte)(kind is 3 or 4
            ? (i.HasRepePrefix ? 1 : i.HasRepnePrefix ? 2 : 0)
            : (i.HasRepPrefix || i.HasRepnePrefix ? 1 : 0));
        t.Barrier = true;

        // A REP CMPS/SCAS with RCX = 0 leaves the flags alone.
        if (op.Aux != 0)
        {
            t.Kill = 0;
        }

        t.Precise = addr32 ? StringHandler<FlagsOn>(kind, w) : StringHandler<FlagsOff>(kind, w);
        return true;
    }

    private static bool IsStringCode(Code code) => code.ToString() is var s
        && (s.StartsWith("Movs", StringComparison.Ordinal) || s.StartsWith("Stos", StringComparison.Ordinal)
            || s.StartsWith("Lods", StringComparison.Ordinal) || s.StartsWith("Cmps", StringComparison.Ordinal)
            || s.StartsWith("Scas", StringComparison.Ordinal))
        && !s.Contains("xmm", StringComparison.Ordinal);

    private static delegate*<CpuCore*, Op*, int> StringHandler<A>(int kind, int w)
        where A : struct, IFlagMode => kind switch
        {
            0 => w switch { 1 => &StringOps.Movs<byte, A>, 2 => &StringOps.Movs<ushort, A>, 4 => &StringOps.Movs<uint, A>, _ => &StringOps.Movs<ulong, A> },
            1 => w switch { 1 => &StringOps.Stos<byte, A>, 2 => &StringOps.Stos<ushort, A>, 4 => &StringOps.Stos<uint, A>, _ => &StringOps.Stos<ulong, A> },
            2 => w switch { 1 => &StringOps.Lods<byte, A>, 2 => &StringOps.Lods<ushort, A>, 4 => &StringOps.Lods<uint, A>, _ => &StringOps.Lods<ulong, A> },
            3 => w switch { 1 => &StringOps.Cmps<byte, A>, 2 => &StringOps.Cmps<ushort, A>, 4 => &StringOps.Cmps<uint, A>, _ => &StringOps.Cmps<ulong, A> },
            _ => w switch { 1 => &StringOps.Scas<byte, A>, 2 => &StringOps.Scas<ushort, A>, 4 => &StringOps.Scas<uint, A>, _ => &StringOps.Scas<ulong, A> },
        };
}
