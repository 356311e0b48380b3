using Iced.Intel;
using TdxSim.Abi;

namespace TdxSim.Cpu.Tests.Differential;

/// <summary>
/// #DE, which the differential test must never provoke natively, checked in the interpreter alone:
/// a zero divisor or a quotient too large for the destination raises vector 0 at the DIV/IDIV with
/// no register changed (SDM Vol. 2A DIV, IDIV: "#DE If the source operand (divisor) is 0. If the
/// quotient is too large for the designated register").
/// </summary>
[Collection(DifferentialCollection.Name)]
public sealed class DivideErrorTests(DifferentialFixture fixture)
{
    [NativeFact]
    public void DivideOverflowAndByZero_RaiseDeWithoutSideEffects()
    {
        Harness h = fixture.Harness;
        var rng = new Random(20);
        for (int i = 0; i < 400; i++)
        {
            int bits = 8 << rng.Next(4);
            bool signed = rng.Next(2) == 0;
            ulong mask = bits == 64 ? ulong.MaxValue : (1UL << bits) - 1;
            ulong divisor;
            ulong hi;
            ulong lo;
            do
            {
                lo = (ulong)rng.NextInt64() & mask;
                int kind = rng.Next(3);
                divisor = kind == 0 ? 0 : (ulong)rng.Next(1, 17);
                hi = kind switch
                {
                    0 => (ulong)rng.NextInt64() & mask,
                    1 when signed => mask, // -1: with the most negative dividend and divisor -1 below
                    _ => (mask >> 2) + (ulong)rng.Next(1 << (bits - 4)),
                };
                if (kind == 1 && signed)
                {
                    divisor = mask;
                    lo = 1UL << (bits - 1);
                }
            }
            while (!Faults(bits, signed, hi, lo, divisor));

            Code code = (signed, bits) switch
            {
                (false, 8) => Code.Div_rm8,
                (false, 16) => Code.Div_rm16,
                (false, 32) => Code.Div_rm32,
                (false, _) => Code.Div_rm64,
                (true, 8) => Code.Idiv_rm8,
                (true, 16) => Code.Idiv_rm16,
                (true, 32) => Code.Idiv_rm32,
                _ => Code.Idiv_rm64,
            };
            Register divisorReg = OperandFactory.Sized(Register.RCX, bits);
            ulong rax = bits == 8 ? (hi << 8) | lo : lo;
            MachineState input = h.Input(0, (Gpr.Rax, rax), (Gpr.Rdx, bits == 8 ? 0xD1D1 : hi), (Gpr.Rcx, divisor), (Gpr.Rbx, 0x1234));
            var encoded = new ByteListWriter();
            Encoder.Create(64, encoded).Encode(Instruction.Create(code, divisorReg), h.Layout.Code);
            var sequence = new TestSequence
            {
                Seed = i,
                Instructions = [Instruction.Create(code, divisorReg)],
                Code = encoded.ToArray(),
                Input = input,
                UndefinedFlags = 0,
                BaseRegister = Register.None,
                IndexRegister = Register.None,
            };

            (CpuExit exit, CpuState state) = h.Interpreter.Execute(sequence);

            string what = $"case {i}: {code} hi=0x{hi:x} lo=0x{lo:x} divisor=0x{divisor:x}";
            Assert.True(exit.Kind == CpuExitKind.Exception && exit.Vector == CpuExit.DivideError, $"{what}: {exit}");
            Assert.Equal(h.Layout.Code, exit.Rip);
            Assert.True(input.Gprs.Equals(state.Gpr), $"{what}: registers changed");
        }
    }

    /// <summary>The SDM's #DE condition, computed exactly with 128-bit arithmetic.</summary>
    private static bool Faults(int bits, bool signed, ulong hi, ulong lo, ulong divisor)
    {
        if (divisor == 0)
        {
            return true;
        }

        UInt128 raw = ((UInt128)hi << bits) | lo;
        if (!signed)
        {
            return raw / divisor > (bits == 64 ? ulong.MaxValue : (1UL << bits) - 1);
        }

        int unused = 128 - (2 * bits);
        var dividend = (Int128)(raw << unused) >> unused;
        var d = (Int128)((UInt128)divisor << (128 - bits)) >> (128 - bits);
        Int128 q = dividend / d;
        return q > (Int128.One << (bits - 1)) - 1 || q < -(Int128.One << (bits - 1));
    }
}
