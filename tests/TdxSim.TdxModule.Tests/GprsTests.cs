using TdxSim.Abi;

namespace TdxSim.TdxModule.Tests;

/// <summary>
/// The register block every TDCALL message carries: masking (what the VMM may see, what a TDVMCALL returns) and the
/// masked copy into a vCPU's registers are vectorized, so they are checked register by register against the rule.
/// </summary>
public sealed class GprsTests
{
    public static TheoryData<ushort> Masks() => [0, GprMask.All, GprMask.Rax, GprMask.R15, 0x8001, 0x5555, 0xAAAA, 0x0F0F, 0xF0F0, 0xFC00, 0x1234, 0xFFFE];

    private static Gprs Distinct(ulong seed)
    {
        Gprs regs = default;
        for (int i = 0; i < Gprs.Count; i++)
        {
            regs[i] = (seed * 0x9E3779B97F4A7C15UL) ^ ((ulong)(i + 1) << 56) ^ (ulong)i;
        }

        return regs;
    }

    [Theory]
    [MemberData(nameof(Masks))]
    public void Masked_KeepsExactlyTheSelectedRegisters_AndLeavesTheSourceAlone(ushort mask)
    {
        Gprs source = Distinct(7);
        Gprs before = source;
        Gprs masked = source.Masked(mask);

        for (int i = 0; i < Gprs.Count; i++)
        {
            Assert.Equal((mask & (1 << i)) != 0 ? source[i] : 0UL, masked[i]);
        }

        Assert.Equal(before, source);
    }

    [Theory]
    [MemberData(nameof(Masks))]
    public void CopyFrom_WritesExactlyTheSelectedRegisters(ushort mask)
    {
        Gprs target = Distinct(1);
        Gprs original = target;
        Gprs source = Distinct(2);

        target.CopyFrom(source, mask);

        for (int i = 0; i < Gprs.Count; i++)
        {
            Assert.Equal((mask & (1 << i)) != 0 ? source[i] : original[i], target[i]);
        }
    }

    [Fact]
    public void EveryMask_MaskedAndCopyFrom_AgreeWithTheRule()
    {
        Gprs source = Distinct(3);
        Gprs target = Distinct(4);
        for (int mask = 0; mask <= 0xFFFF; mask++)
        {
            Gprs masked = source.Masked((ushort)mask);
            Gprs copied = target;
            copied.CopyFrom(source, (ushort)mask);
            for (int i = 0; i < Gprs.Count; i++)
            {
                bool selected = (mask & (1 << i)) != 0;
                if (masked[i] != (selected ? source[i] : 0UL) || copied[i] != (selected ? source[i] : target[i]))
                {
                    Assert.Fail($"mask 0x{mask:x4}, register {i}: masked 0x{masked[i]:x}, copied 0x{copied[i]:x}");
                }
            }
        }
    }
}
