using Iced.Intel;

namespace TdxSim.Cpu.Tests.Differential;

/// <summary>
/// What the generator knows while it emits a sequence, and the gate every instruction passes:
/// <list type="bullet">
/// <item>which status flags are undefined (their last writer left them so, per Iced's tables or the
/// count-dependent shift rules), so a flag reader is only emitted once its flags are defined, and the
/// final comparison masks what stays undefined;</item>
/// <item>the registers whose value is known: RSP (moved only by stack instructions), the reserved base
/// and index registers (never written), and registers a gadget just loaded with MOV imm;</item>
/// <item>that no instruction writes RSP or a reserved register explicitly, and that every memory access
/// lies in the data buffer or the live stack window, so nothing can fault natively.</item>
/// </list>
/// </summary>
internal sealed class GeneratorState
{
    private const int RspMargin = 64;

    private readonly InstructionInfoFactory _info = new();
    private readonly Encoder _encoder = Encoder.Create(64, new ByteListWriter());
    private readonly ulong?[] _known = new ulong?[16];

    public GeneratorState(SandboxLayout layout, Register baseRegister, ulong baseValue, Register indexRegister, ulong indexValue, Func<Instruction, bool>? avoid = null)
    {
        Layout = layout;
        Avoid = avoid;
        BaseRegister = baseRegister;
        IndexRegister = indexRegister;
        _known[Number(Register.RSP)] = layout.StackTop;
        if (baseRegister != Register.None)
        {
            _known[Number(baseRegister)] = baseValue;
        }

        if (indexRegister != Register.None)
        {
            _known[Number(indexRegister)] = indexValue;
        }
    }

    public SandboxLayout Layout { get; }

    /// <summary>Forms not to emit (known interpreter bugs still present), or null.</summary>
    public Func<Instruction, bool>? Avoid { get; }

    /// <summary>The register pointing into the data buffer (never written), or None.</summary>
    public Register BaseRegister { get; }

    /// <summary>A register holding a small index (never written), or None.</summary>
    public Register IndexRegister { get; }

    public List<Instruction> Instructions { get; } = [];

    /// <summary>Status flags whose value is undefined at this point.</summary>
    public ulong UndefinedFlags { get; set; }

    /// <summary>Whether DF is set (only inside a string gadget).</summary>
    public bool Direction { get; set; }

    public ulong? Known(Register r) => r == Register.None ? null : _known[Number(r)];

    public void SetKnown(Register r, ulong? value) => _known[Number(r)] = value;

    public bool IsReserved(Register full) =>
        full == Register.RSP || (full != Register.None && (full == BaseRegister || full == IndexRegister));

    public Snapshot Save() => new(Instructions.Count, UndefinedFlags, Direction, (ulong?[])_known.Clone());

    public void Restore(Snapshot s)
    {
        Instructions.RemoveRange(s.Count, Instructions.Count - s.Count);
        UndefinedFlags = s.Undefined;
        Direction = s.Direction;
        s.Known.CopyTo(_known, 0);
    }

    /// <summary>At a branch target: a flag undefined on either path is undefined; a value known on only one is not known.</summary>
    public void Merge(Snapshot other)
    {
        UndefinedFlags |= other.Undefined;
        for (int i = 0; i < _known.Length; i++)
        {
            if (_known[i] != other.Known[i])
            {
                _known[i] = null;
            }
        }
    }

    /// <summary>Status flags the instruction reads (PUSHF and LAHF copy them out, so they count as reads).</summary>
    public static ulong FlagsRead(in Instruction instr) => X86Flags.FromIced(instr.RflagsRead);

    /// <summary>
    /// Appends <paramref name="instr"/> if it is encodable and safe; updates the flag and register
    /// knowledge. <paramref name="undefinedOverride"/> replaces Iced's static flag effects for
    /// instructions whose effect depends on a known count: (flags it defines, flags it leaves undefined).
    /// </summary>
    public bool TryEmit(Instruction instr, (ulong Defined, ulong Undefined)? undefinedOverride = null)
    {
        if ((instr.FlowControl == FlowControl.Next && !Encodable(instr)) || (Avoid is not null && Avoid(instr)))
        {
            return false;
        }

        InstructionInfo info = _info.GetInfo(instr);
        bool stack = instr.StackPointerIncrement != 0;
        if (!WritesAllowed(instr, info, stack) || !MemoryAllowed(instr, info))
        {
            return false;
        }

        ulong? rsp = _known[Number(Register.RSP)];
        ulong? newRsp = null;
        if (stack)
        {
            if (rsp is not { } r)
            {
                return false;
            }

            newRsp = r + (ulong)(long)instr.StackPointerIncrement;
            if (newRsp < Layout.StackWindowStart + RspMargin || newRsp > Layout.StackWindowEnd - RspMargin)
            {
                return false;
            }
        }

        if ((FlagsRead(instr) & UndefinedFlags) != 0)
        {
            return false;
        }

        Instructions.Add(instr);
        (ulong defined, ulong undefined) = undefinedOverride
            ?? (X86Flags.FromIced(instr.RflagsModified) & ~X86Flags.FromIced(instr.RflagsUndefined), X86Flags.FromIced(instr.RflagsUndefined));
        UndefinedFlags = (UndefinedFlags & ~defined) | undefined;

        foreach (UsedRegister used in info.GetUsedRegisters())
        {
            if (IsWrite(used.Access))
            {
                Register full = used.Register.GetFullRegister();
                if (full.IsGPR64())
                {
                    _known[Number(full)] = null;
                }
            }
        }

        if (stack)
        {
            _known[Number(Register.RSP)] = newRsp;
        }

        return true;
    }

    private static bool IsWrite(OpAccess a) =>
        a is OpAccess.Write or OpAccess.CondWrite or OpAccess.ReadWrite or OpAccess.ReadCondWrite;

    private static int Number(Register r) => r.GetFullRegister() - Register.RAX;

    private bool Encodable(in Instruction instr)
    {
        Instruction copy = instr;
        return _encoder.TryEncode(copy, Layout.Code, out _, out _);
    }

    private bool WritesAllowed(in Instruction instr, InstructionInfo info, bool stack)
    {
        foreach (UsedRegister used in info.GetUsedRegisters())
        {
            if (!IsWrite(used.Access))
            {
                continue;
            }

            Register full = used.Register.GetFullRegister();
            if (full == Register.RSP && stack)
            {
                continue; // the implicit RSP update of PUSH/POP, checked against the window below
            }

            if (IsReserved(full))
            {
                return false;
            }
        }

        // POP RSP / PUSH RSP: the explicit operand is RSP itself; keep RSP's knowledge simple.
        if (stack)
        {
            for (int i = 0; i < instr.OpCount; i++)
            {
                if (instr.GetOpKind(i) == OpKind.Register && instr.GetOpRegister(i).GetFullRegister() == Register.RSP)
                {
                    return false;
                }
            }
        }

        return true;
    }

    private bool MemoryAllowed(in Instruction instr, InstructionInfo info)
    {
        foreach (UsedMemory m in info.GetUsedMemory())
        {
            if (m.Access == OpAccess.NoMemAccess)
            {
                continue;
            }

            if (instr.IsStringInstruction)
            {
                continue; // string gadgets check their whole range themselves (StringRangeAllowed)
            }

            if (!TryAddress(m, out ulong address))
            {
                return false;
            }

            ulong size = (ulong)m.MemorySize.GetSize();
            if (size == 0)
            {
                return false;
            }

            // POP [RSP+d] computes its address after RSP moves (SDM Vol. 2B POP): not generated.
            if (instr.Mnemonic == Mnemonic.Pop && m.Base.GetFullRegister() == Register.RSP && instr.Op0Kind == OpKind.Memory)
            {
                return false;
            }

            if (!InDataOrLiveStack(address, size))
            {
                return false;
            }
        }

        return true;
    }

    public bool InDataOrLiveStack(ulong address, ulong size)
    {
        if (Layout.InData(address, size))
        {
            return true;
        }

        // The stack below RSP is not compared (a signal frame may land there natively): only the
        // live part, and the slot a PUSH is about to fill, may be touched.
        ulong? rsp = _known[Number(Register.RSP)];
        return rsp is { } r && Layout.InStackWindow(address, size) && address + 16 >= r;
    }

    private bool TryAddress(UsedMemory m, out ulong address)
    {
        address = 0;
        ulong value = (ulong)(long)m.Displacement;
        if (m.Base != Register.None)
        {
            if (Known(m.Base) is not { } b)
            {
                return false;
            }

            value += b;
        }

        if (m.Index != Register.None)
        {
            if (Known(m.Index) is not { } x)
            {
                return false;
            }

            ulong idx = m.Index.IsGPR32() ? (ulong)(long)(int)(uint)x : x;
            value += idx * (ulong)m.Scale;
        }

        if (m.AddressSize == CodeSize.Code32)
        {
            value &= 0xFFFF_FFFF;
        }

        address = value;
        return true;
    }

    internal readonly record struct Snapshot(int Count, ulong Undefined, bool Direction, ulong?[] Known);
}
