using System.Runtime.Intrinsics.X86;
using Iced.Intel;

namespace TdxSim.Cpu.Tests.Differential;

/// <summary>
/// The instruction forms in scope, taken from Iced's opcode tables rather than listed by hand: every
/// legacy-encoded 64-bit-mode <see cref="Code"/> of the listed mnemonics whose operands the generator
/// can fill (registers, r/m, immediates, moffs). Forms grouped by family so each family is drawn
/// equally often however many encodings it has (ADD has twenty, CQO one).
/// </summary>
internal sealed class InstructionCatalog
{
    private static readonly Mnemonic[] Scope =
    [
        Mnemonic.Mov, Mnemonic.Movzx, Mnemonic.Movsx, Mnemonic.Movsxd, Mnemonic.Lea, Mnemonic.Xchg,
        Mnemonic.Cmpxchg, Mnemonic.Xadd, Mnemonic.Bswap, Mnemonic.Push, Mnemonic.Pop,
        Mnemonic.Add, Mnemonic.Adc, Mnemonic.Sub, Mnemonic.Sbb, Mnemonic.Cmp, Mnemonic.And, Mnemonic.Or,
        Mnemonic.Xor, Mnemonic.Test, Mnemonic.Inc, Mnemonic.Dec, Mnemonic.Neg, Mnemonic.Not,
        Mnemonic.Mul, Mnemonic.Imul, Mnemonic.Div, Mnemonic.Idiv,
        Mnemonic.Shl, Mnemonic.Sal, Mnemonic.Shr, Mnemonic.Sar, Mnemonic.Rol, Mnemonic.Ror, Mnemonic.Rcl, Mnemonic.Rcr,
        Mnemonic.Shld, Mnemonic.Shrd, Mnemonic.Bt, Mnemonic.Bts, Mnemonic.Btr, Mnemonic.Btc,
        Mnemonic.Bsf, Mnemonic.Bsr, Mnemonic.Tzcnt, Mnemonic.Lzcnt, Mnemonic.Popcnt,
        Mnemonic.Seto, Mnemonic.Setno, Mnemonic.Setb, Mnemonic.Setae, Mnemonic.Sete, Mnemonic.Setne, Mnemonic.Setbe,
        Mnemonic.Seta, Mnemonic.Sets, Mnemonic.Setns, Mnemonic.Setp, Mnemonic.Setnp, Mnemonic.Setl, Mnemonic.Setge,
        Mnemonic.Setle, Mnemonic.Setg,
        Mnemonic.Cmovo, Mnemonic.Cmovno, Mnemonic.Cmovb, Mnemonic.Cmovae, Mnemonic.Cmove, Mnemonic.Cmovne,
        Mnemonic.Cmovbe, Mnemonic.Cmova, Mnemonic.Cmovs, Mnemonic.Cmovns, Mnemonic.Cmovp, Mnemonic.Cmovnp,
        Mnemonic.Cmovl, Mnemonic.Cmovge, Mnemonic.Cmovle, Mnemonic.Cmovg,
        Mnemonic.Cbw, Mnemonic.Cwde, Mnemonic.Cdqe, Mnemonic.Cwd, Mnemonic.Cdq, Mnemonic.Cqo,
        Mnemonic.Clc, Mnemonic.Stc, Mnemonic.Cmc, Mnemonic.Lahf, Mnemonic.Sahf,
        Mnemonic.Pushf, Mnemonic.Pushfq, Mnemonic.Nop,
    ];

    private InstructionCatalog(Dictionary<string, Code[]> families)
    {
        Families = families;
        FamilyNames = [.. families.Keys.Order(StringComparer.Ordinal)];
    }

    /// <summary>Forms by family name (a mnemonic, or "setcc" / "cmovcc").</summary>
    public IReadOnlyDictionary<string, Code[]> Families { get; }

    /// <summary>Family names in a stable order (the generator draws by index, so this order is part of a seed's meaning).</summary>
    public IReadOnlyList<string> FamilyNames { get; }

    /// <summary>The catalog for this host: BMI1/LZCNT/POPCNT forms only where the CPU has them.</summary>
    public static InstructionCatalog ForHost(Func<Code, bool>? filter = null)
    {
        var scope = new HashSet<Mnemonic>(Scope);
        if (!Bmi1.IsSupported)
        {
            scope.Remove(Mnemonic.Tzcnt);
        }

        if (!Lzcnt.IsSupported)
        {
            scope.Remove(Mnemonic.Lzcnt);
        }

        if (!Popcnt.IsSupported)
        {
            scope.Remove(Mnemonic.Popcnt);
        }

        var families = new Dictionary<string, List<Code>>(StringComparer.Ordinal);
        foreach (Code code in Enum.GetValues<Code>())
        {
            OpCodeInfo op = code.ToOpCode();
            if (!op.IsInstruction || !op.Mode64 || op.Encoding != EncodingKind.Legacy || !scope.Contains(code.Mnemonic())
                || !Supported(code, op) || (filter is not null && !filter(code)))
            {
                continue;
            }

            string family = FamilyOf(code.Mnemonic());
            if (!families.TryGetValue(family, out List<Code>? list))
            {
                families[family] = list = [];
            }

            list.Add(code);
        }

        return new InstructionCatalog(families.ToDictionary(kv => kv.Key, kv => kv.Value.ToArray(), StringComparer.Ordinal));
    }

    public static string FamilyOf(Mnemonic m)
    {
        string name = m.ToString();
        if (name.StartsWith("Cmov", StringComparison.Ordinal))
        {
            return "cmovcc";
        }

        return name.StartsWith("Set", StringComparison.Ordinal) ? "setcc" : name.ToLowerInvariant();
    }

    private static bool Supported(Code code, OpCodeInfo op)
    {
        // BSWAP r16 is undefined (SDM Vol. 2A BSWAP); segment-register PUSH/POP and MOV Sreg are out of scope.
        if (code is Code.Bswap_r16)
        {
            return false;
        }

        for (int i = 0; i < op.OpCount; i++)
        {
            if (!OperandFactory.CanFill(op.GetOpKind(i)))
            {
                return false;
            }
        }

        return true;
    }
}
