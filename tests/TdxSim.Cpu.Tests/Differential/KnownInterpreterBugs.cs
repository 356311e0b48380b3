using Iced.Intel;
using TdxSim.Abi;
using static Iced.Intel.AssemblerRegisters;

namespace TdxSim.Cpu.Tests.Differential;

/// <summary>
/// A mismatch between the interpreter and the CPU that the differential test found and that is not
/// fixed yet. While its reproducer still mismatches, the generator avoids the affected forms so the
/// random test keeps guarding everything else; once the interpreter is fixed the reproducer matches,
/// the exclusion lifts by itself and the random test covers the forms again.
/// </summary>
/// <param name="Name">Short identifier.</param>
/// <param name="Description">What the CPU does and what the interpreter does instead.</param>
/// <param name="Emit">Minimal reproducer.</param>
/// <param name="Registers">Reproducer input registers.</param>
/// <param name="IsDocumentedMismatch">True when (native, interpreted) show exactly the documented wrong behaviour.</param>
/// <param name="Affects">Instruction forms the generator must avoid while the bug is present.</param>
internal sealed record KnownBug(
    string Name,
    string Description,
    Action<Assembler> Emit,
    (Gpr Reg, ulong Value)[] Registers,
    Func<MachineState, MachineState, bool> IsDocumentedMismatch,
    Func<Instruction, bool> Affects)
{
    public override string ToString() => Name;
}

/// <summary>The known, unfixed interpreter bugs (see <see cref="KnownBug"/>).</summary>
internal static class KnownInterpreterBugs
{
    /// <summary>
    /// CMPXCHG r32, r32 whose comparison fails (EAX != destination): the CPU writes only the
    /// accumulator (RAX = zero-extended destination) and leaves the 64-bit destination register
    /// untouched; the interpreter also writes the destination back as a 32-bit register write,
    /// clearing its bits 63:32. SDM Vol. 2A CMPXCHG: "ELSE ZF := 0; accumulator := DEST".
    /// Reproducer: RAX=1, R9=0x7fffffffffffffff, RBX=5; <c>cmpxchg r9d, ebx</c>: CPU R9 = 0x7fffffffffffffff,
    /// interpreter R9 = 0x00000000ffffffff (RAX = 0xffffffff on both).
    /// </summary>
    public static readonly KnownBug CmpxchgR32MismatchClearsDestinationHigh = new(
        "cmpxchg-r32-mismatch-clears-destination-high",
        "CMPXCHG r32, r32 with EAX != destination: the interpreter clears bits 63:32 of the destination register; the CPU leaves it untouched",
        a => a.cmpxchg(r9d, ebx),
        [(Gpr.Rax, 1), (Gpr.R9, 0x7FFF_FFFF_FFFF_FFFF), (Gpr.Rbx, 5)],
        (native, interpreted) => native.Gprs[Gpr.R9] == 0x7FFF_FFFF_FFFF_FFFF && interpreted.Gprs[Gpr.R9] == 0xFFFF_FFFF
            && native.Gprs[Gpr.Rax] == 0xFFFF_FFFF && interpreted.Gprs[Gpr.Rax] == 0xFFFF_FFFF,
        i => i.Code == Code.Cmpxchg_rm32_r32 && i.Op0Kind == OpKind.Register);

    public static IReadOnlyList<KnownBug> All { get; } = [CmpxchgR32MismatchClearsDestinationHigh];
}
