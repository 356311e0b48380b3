using Iced.Intel;
using TdxSim.Cpu.Exec;
using TdxSim.Abi;
using IcedFlags = Iced.Intel.RflagsBits;

namespace TdxSim.Cpu.Decode;

/// <summary>
/// Turns one Iced-decoded instruction into a pre-decoded <see cref="Op"/>: picks the width- and form-specific handler,
/// resolves register operands to core offsets and memory operands to base/index/scale/displacement (RIP-relative
/// addresses become absolute). Anything outside the supported set becomes a #UD op naming the instruction.
/// </summary>
internal static unsafe partial class Translator
{
    private const ulong Of = Flags.Of;
    private const ulong AllStatus = Flags.Status;

    /// <summary>Translates <paramref name="i"/> (already decoded at op.Rip) into <paramref name="op"/>.</summary>
    public static Translation Translate(in Instruction i, ref Op op, int index, ReadOnlySpan<byte> bytes)
    {
        var t = new Translation
        {
            Writes = MapFlags(i.RflagsModified),
            Kill = MapFlags(i.RflagsModified),
            Read = MapFlags(i.RflagsRead),
        };
        op.AddrMask = ulong.MaxValue;
        op.Seg = CpuCore.ZeroOffset;
        op.Base = CpuCore.ZeroOffset;
        op.Index = CpuCore.ZeroOffset;

        bool ok = i.Code != Code.INVALID && TranslateKnown(in i, ref op, ref t, index);
        if (!ok)
        {
            Unsupported(in i, ref op, ref t, bytes);
        }

        if (t.Precise == null)
        {
            Unsupported(in i, ref op, ref t, bytes);
        }

        return t;
    }

    private static bool TranslateKnown(in Instruction i, ref Op op, ref Translation t, int index)
    {
        switch (i.Mnemonic)
        {
            case Mnemonic.Add: return Binary<AddOp>(in i, ref op, ref t);
            case Mnemonic.Or: return Binary<OrOp>(in i, ref op, ref t);
            case Mnemonic.Adc: return Binary<AdcOp>(in i, ref op, ref t);
            case Mnemonic.Sbb: return Binary<SbbOp>(in i, ref op, ref t);
            case Mnemonic.And: return Binary<AndOp>(in i, ref op, ref t);
            case Mnemonic.Sub: return Binary<SubOp>(in i, ref op, ref t);
            case Mnemonic.Xor: return Binary<XorOp>(in i, ref op, ref t);
            case Mnemonic.Cmp: return Binary<CmpOp>(in i, ref op, ref t);
            case Mnemonic.Test: return Binary<TestOp>(in i, ref op, ref t);
            case Mnemonic.Inc: return UnaryForm<IncOp>(in i, ref op, ref t);
            case Mnemonic.Dec: return UnaryForm<DecOp>(in i, ref op, ref t);
            case Mnemonic.Neg: return UnaryForm<NegOp>(in i, ref op, ref t);
            case Mnemonic.Not: return UnaryForm<NotOp>(in i, ref op, ref t);
            case Mnemonic.Shl:
            case Mnemonic.Sal: return ShiftForm<ShlOp>(in i, ref op, ref t, rotate: false);
            case Mnemonic.Shr: return ShiftForm<ShrOp>(in i, ref op, ref t, rotate: false);
            case Mnemonic.Sar: return ShiftForm<SarOp>(in i, ref op, ref t, rotate: false);
            case Mnemonic.Rol: return ShiftForm<RolOp>(in i, ref op, ref t, rotate: true);
            case Mnemonic.Ror: return ShiftForm<RorOp>(in i, ref op, ref t, rotate: true);
            case Mnemonic.Rcl: return ShiftForm<RclOp>(in i, ref op, ref t, rotate: true);
            case Mnemonic.Rcr: return ShiftForm<RcrOp>(in i, ref op, ref t, rotate: true);
            case Mnemonic.Shld: return DoubleShift(in i, ref op, ref t, right: false);
            case Mnemonic.Shrd: return DoubleShift(in i, ref op, ref t, right: true);
            case Mnemonic.Bt: return BitTest<BtOp>(in i, ref op, ref t);
            case Mnemonic.Bts: return BitTest<BtsOp>(in i, ref op, ref t);
            case Mnemonic.Btr: return BitTest<BtrOp>(in i, ref op, ref t);
            case Mnemonic.Btc: return BitTest<BtcOp>(in i, ref op, ref t);
            case Mnemonic.Bsf: return Scan<BsfOp>(in i, ref op, ref t);
            case Mnemonic.Bsr: return Scan<BsrOp>(in i, ref op, ref t);
            case Mnemonic.Tzcnt: return Scan<TzcntOp>(in i, ref op, ref t);
            case Mnemonic.Lzcnt: return Scan<LzcntOp>(in i, ref op, ref t);
            case Mnemonic.Popcnt: return Scan<PopcntOp>(in i, ref op, ref t);
            case Mnemonic.Mul: return MulDiv(in i, ref op, ref t, div: false, signed: false);
            case Mnemonic.Imul: return i.OpCount == 1 ? MulDiv(in i, ref op, ref t, div: false, signed: true) : Imul(in i, ref op, ref t);
            case Mnemonic.Div: return MulDiv(in i, ref op, ref t, div: true, signed: false);
            case Mnemonic.Idiv: return MulDiv(in i, ref op, ref t, div: true, signed: true);
            case Mnemonic.Mov: return IsSystemMov(in i) ? SystemMov(in i, ref op, ref t) : Mov(in i, ref op, ref t);
            case Mnemonic.Lgdt: return DescriptorTable(in i, ref op, ref t, 0, load: true);
            case Mnemonic.Lidt: return DescriptorTable(in i, ref op, ref t, 1, load: true);
            case Mnemonic.Sgdt: return DescriptorTable(in i, ref op, ref t, 0, load: false);
            case Mnemonic.Sidt: return DescriptorTable(in i, ref op, ref t, 1, load: false);
            case Mnemonic.Retf: return FarReturn(in i, ref op, ref t);
            case Mnemonic.Invlpg: t.Ends = true; return Stack(ref t, &SystemOps.Invlpg);
            case Mnemonic.Movzx: return Extend(in i, ref op, ref t, signed: false);
            case Mnemonic.Movsx:
            case Mnemonic.Movsxd: return Extend(in i, ref op, ref t, signed: true);
            case Mnemonic.Lea: return Lea(in i, ref op, ref t);
            case Mnemonic.Xchg: return Xchg(in i, ref op, ref t);
            case Mnemonic.Cmpxchg: return Cmpxchg(in i, ref op, ref t);
            case Mnemonic.Xadd: return Xadd(in i, ref op, ref t);
            case Mnemonic.Cmpxchg8b: return MemoryOnly(in i, ref op, ref t, &AtomicOps.Cmpxchg8b);
            case Mnemonic.Cmpxchg16b: return MemoryOnly(in i, ref op, ref t, &AtomicOps.Cmpxchg16b);
            case Mnemonic.Bswap: return Bswap(in i, ref op, ref t);
            case Mnemonic.Cbw: return Plain(ref t, &MovOps.ExtendAccumulator<ushort, byte>);
            case Mnemonic.Cwde: return Plain(ref t, &MovOps.ExtendAccumulator<uint, ushort>);
            case Mnemonic.Cdqe: return Plain(ref t, &MovOps.ExtendAccumulator<ulong, uint>);
            case Mnemonic.Cwd: return Plain(ref t, &MovOps.SignToRdx<ushort>);
            case Mnemonic.Cdq: return Plain(ref t, &MovOps.SignToRdx<uint>);
            case Mnemonic.Cqo: return Plain(ref t, &MovOps.SignToRdx<ulong>);
            case Mnemonic.Push: return Push(in i, ref op, ref t);
            case Mnemonic.Pop: return Pop(in i, ref op, ref t);
            case Mnemonic.Pushf: return Stack(ref t, &StackOps.Pushf<ushort>);
            case Mnemonic.Pushfq: return Stack(ref t, &StackOps.Pushf<ulong>);
            case Mnemonic.Popf: return Stack(ref t, &StackOps.Popf<ushort>);
            case Mnemonic.Popfq: return Stack(ref t, &StackOps.Popf<ulong>);
            case Mnemonic.Leave: return i.CodeSize == CodeSize.Code64 && i.Code == Code.Leaveq && Stack(ref t, &StackOps.Leave);
            case Mnemonic.Enter: return Enter(in i, ref op, ref t);
            case Mnemonic.Jmp: return Jump(in i, ref op, ref t, call: false);
            case Mnemonic.Call: return Jump(in i, ref op, ref t, call: true);
            case Mnemonic.Ret: return Ret(in i, ref op, ref t);
            case Mnemonic.Loop: return Loop(in i, ref op, ref t, 0);
            case Mnemonic.Loope: return Loop(in i, ref op, ref t, 1);
            case Mnemonic.Loopne: return Loop(in i, ref op, ref t, 2);
            case Mnemonic.Jrcxz: return Jrcxz(in i, ref op, ref t, ecx: false);
            case Mnemonic.Jecxz: return Jrcxz(in i, ref op, ref t, ecx: true);
            case Mnemonic.Clc: return SetFlags(ref op, ref t, Flags.Cf, 0);
            case Mnemonic.Stc: return SetFlags(ref op, ref t, Flags.Cf, Flags.Cf);
            case Mnemonic.Cli: return SetFlags(ref op, ref t, Flags.If, 0);
            case Mnemonic.Sti: return Plain(ref t, &SystemOps.Sti);
            case Mnemonic.Cld: return SetFlags(ref op, ref t, Flags.Df, 0);
            case Mnemonic.Std: return SetFlags(ref op, ref t, Flags.Df, Flags.Df);
            case Mnemonic.Cmc: return Plain(ref t, &SystemOps.Cmc);
            case Mnemonic.Lahf: return Plain(ref t, &SystemOps.Lahf);
            case Mnemonic.Sahf: return Plain(ref t, &SystemOps.Sahf);
            case Mnemonic.Pause:
                // A pause-loop exit may end the run here, so RFLAGS must be exact before it.
                t.Precise = &SystemOps.Pause;
                t.Barrier = true;
                return true;
            case Mnemonic.Nop:
            case Mnemonic.Lfence:
            case Mnemonic.Sfence:
            case Mnemonic.Endbr64:
            case Mnemonic.Reservednop:
            case Mnemonic.Prefetchnta:
            case Mnemonic.Prefetcht0:
            case Mnemonic.Prefetcht1:
            case Mnemonic.Prefetcht2:
            case Mnemonic.Prefetchw:
                return Plain(ref t, &SystemOps.Nop);
            case Mnemonic.Mfence: return Plain(ref t, &SystemOps.Mfence);
            case Mnemonic.Rdtsc:
                op.Aux2 = index;
                return Plain(ref t, &SystemOps.Rdtsc);
            case Mnemonic.Cpuid: return VeExit(ref op, ref t, VeExitReason.Cpuid);
            case Mnemonic.Iretq:
            case Mnemonic.Iretd:
            case Mnemonic.Swapgs:
            case Mnemonic.Ltr:
            case Mnemonic.Str:
            case Mnemonic.Lldt:
            case Mnemonic.Sldt:
            case Mnemonic.Xgetbv:
            case Mnemonic.Xsetbv:
            case Mnemonic.Fninit:
            case Mnemonic.Fnstcw:
            case Mnemonic.Fldcw:
            case Mnemonic.Fnstsw:
            case Mnemonic.Wait:
            case Mnemonic.Fxsave:
            case Mnemonic.Fxsave64:
            case Mnemonic.Fxrstor:
            case Mnemonic.Fxrstor64:
            case Mnemonic.Ldmxcsr:
            case Mnemonic.Stmxcsr:
            case Mnemonic.Xsave:
            case Mnemonic.Xsave64:
            case Mnemonic.Xrstor:
            case Mnemonic.Xrstor64:
            case Mnemonic.Rdtscp:
            case Mnemonic.Rdrand:
            case Mnemonic.Rdseed:
            case Mnemonic.Rdpid:
            case Mnemonic.Clflush:
            case Mnemonic.Clflushopt:
            case Mnemonic.Clwb:
            case Mnemonic.Wbinvd:
            case Mnemonic.Invd:
            case Mnemonic.Stac:
            case Mnemonic.Clac:
            case Mnemonic.Int3:
            case Mnemonic.Monitor:
            case Mnemonic.Mwait:
            case Mnemonic.Movaps:
            case Mnemonic.Movups:
            case Mnemonic.Movdqa:
            case Mnemonic.Movdqu:
            case Mnemonic.Movapd:
            case Mnemonic.Movupd:
            case Mnemonic.Movq:
            case Mnemonic.Movd:
            case Mnemonic.Pxor:
            case Mnemonic.Xorps:
            case Mnemonic.Xorpd:
                return SystemInstruction(in i, ref op, ref t, index);
            case Mnemonic.Rdmsr:
                // RDMSR of IA32_TIME_STAMP_COUNTER passes through the TD's MSR bitmap (no exit, reference 3.1):
                // the CPU answers it as RDTSC, so the op needs its index in the block as RDTSC does.
                op.Aux2 = index;
                t.Precise = &SystemOps.Rdmsr;
                t.Barrier = t.Ends = true;
                return true;
            case Mnemonic.Wrmsr:
                t.Precise = &SystemOps.Wrmsr;
                t.Barrier = t.Ends = true;
                return true;
            case Mnemonic.Hlt: return VeExit(ref op, ref t, VeExitReason.Hlt);
            case Mnemonic.Tdcall:
                t.Precise = &SystemOps.Tdcall;
                t.Barrier = t.Ends = true;
                return true;
            case Mnemonic.Ud2:
                op.Aux2 = CpuExit.InvalidOpcode;
                op.Aux = (byte)FaultDetail.Ud2;
                t.Precise = &SystemOps.Fault;
                t.Barrier = t.Ends = true;
                return true;
            case Mnemonic.In:
            case Mnemonic.Out:
            case Mnemonic.Insb:
            case Mnemonic.Insw:
            case Mnemonic.Insd:
            case Mnemonic.Outsb:
            case Mnemonic.Outsw:
            case Mnemonic.Outsd:
                return Io(in i, ref op, ref t);
            default:
                if (i.ConditionCode != ConditionCode.None)
                {
                    return Conditional(in i, ref op, ref t);
                }

                return StringInstruction(in i, ref op, ref t);
        }
    }

    /// <summary>A #UD op whose detail names the instruction and its bytes.</summary>
    private static void Unsupported(in Instruction i, ref Op op, ref Translation t, ReadOnlySpan<byte> bytes)
    {
        string text = i.Code == Code.INVALID ? "(invalid encoding)" : i.ToString();
        op.Aux2 = CpuExit.InvalidOpcode;
        op.Aux = (byte)FaultDetail.Unsupported;
        t = new Translation
        {
            Precise = &SystemOps.Fault,
            Barrier = true,
            Ends = true,
            Detail = $"#UD: unsupported instruction '{text}' ({HexBytes(bytes)})",
        };
    }

    /// <summary>"c5 f4 58 c2": the bytes of an instruction as a fault message shows them.</summary>
    private static string HexBytes(ReadOnlySpan<byte> bytes)
    {
        var parts = new string[bytes.Length];
        for (int k = 0; k < bytes.Length; k++)
        {
            parts[k] = bytes[k].ToString("x2", System.Globalization.CultureInfo.InvariantCulture);
        }

        return string.Join(' ', parts);
    }

    private static bool Plain(ref Translation t, delegate*<CpuCore*, Op*, int> handler)
    {
        t.Precise = handler;
        return true;
    }

    private static bool Stack(ref Translation t, delegate*<CpuCore*, Op*, int> handler)
    {
        t.Precise = handler;
        t.Barrier = true;
        return true;
    }

    private static bool SetFlags(ref Op op, ref Translation t, ulong mask, ulong value)
    {
        op.Imm = mask;
        op.Disp = (long)value;
        t.Precise = &SystemOps.SetFlags;
        return true;
    }

    private static bool VeExit(ref Op op, ref Translation t, VeExitReason reason)
    {
        op.Aux2 = (int)reason;
        t.Precise = &SystemOps.VeExit;
        t.Barrier = t.Ends = true;
        return true;
    }

    /// <summary>Maps Iced's RflagsBits to RFLAGS status-flag bits.</summary>
    private static ulong MapFlags(IcedFlags bits) =>
        ((bits & IcedFlags.OF) != 0 ? Flags.Of : 0)
        | ((bits & IcedFlags.SF) != 0 ? Flags.Sf : 0)
        | ((bits & IcedFlags.ZF) != 0 ? Flags.Zf : 0)
        | ((bits & IcedFlags.AF) != 0 ? Flags.Af : 0)
        | ((bits & IcedFlags.CF) != 0 ? Flags.Cf : 0)
        | ((bits & IcedFlags.PF) != 0 ? Flags.Pf : 0);

    /// <summary>Core offset of a general-purpose register operand (8-bit high registers address byte 1).</summary>
    private static byte RegOff(Register r)
    {
        if (r is Register.AH or Register.CH or Register.DH or Register.BH)
        {
            return CpuCore.HighByteOffset(r - Register.AH);
        }

        Register full = r.GetFullRegister();
        if (full < Register.RAX || full > Register.R15)
        {
            throw new InvalidOperationException($"register {r} is not a general-purpose register");
        }

        return CpuCore.RegOffset(full - Register.RAX);
    }

    private static bool IsGpr(Register r) => r.IsGPR();

    /// <summary>Operand width in bytes of operand <paramref name="n"/> (register or memory).</summary>
    private static int Width(in Instruction i, int n) => i.GetOpKind(n) switch
    {
        OpKind.Register => i.GetOpRegister(n).GetSize(),
        OpKind.Memory => i.MemorySize.GetSize(),
        _ => 0,
    };

    /// <summary>Fills the memory operand of <paramref name="op"/>; false if it uses something the interpreter lacks.</summary>
    private static bool Memory(in Instruction i, ref Op op)
    {
        Register seg = i.MemorySegment;
        op.Seg = seg switch
        {
            Register.FS => CpuCore.FsBaseOffset,
            Register.GS => CpuCore.GsBaseOffset,
            _ => CpuCore.ZeroOffset,
        };
        if (i.IsIPRelativeMemoryOperand)
        {
            op.Disp = (long)i.IPRelativeMemoryAddress;
            op.AddrMask = i.MemoryBase == Register.EIP ? uint.MaxValue : ulong.MaxValue;
            return true;
        }

        Register b = i.MemoryBase;
        Register x = i.MemoryIndex;
        if ((b != Register.None && !IsGpr(b)) || (x != Register.None && !IsGpr(x)))
        {
            return false;
        }

        bool addr32 = b.IsGPR32() || x.IsGPR32() || (b == Register.None && x == Register.None && i.MemoryDisplSize == 4);
        op.Base = b == Register.None ? CpuCore.ZeroOffset : RegOff(b);
        op.Index = x == Register.None ? CpuCore.ZeroOffset : RegOff(x);
        op.Scale = (byte)(i.MemoryIndexScale switch { 2 => 1, 4 => 2, 8 => 3, _ => 0 });
        op.Disp = (long)i.MemoryDisplacement64;
        op.AddrMask = addr32 ? uint.MaxValue : ulong.MaxValue;
        return true;
    }

    private static bool IsImmediate(OpKind k) => k is OpKind.Immediate8 or OpKind.Immediate16 or OpKind.Immediate32
        or OpKind.Immediate64 or OpKind.Immediate8to16 or OpKind.Immediate8to32 or OpKind.Immediate8to64 or OpKind.Immediate32to64;
}
