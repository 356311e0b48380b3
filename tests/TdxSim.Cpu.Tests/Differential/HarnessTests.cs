using Iced.Intel;
using TdxSim.Abi;

namespace TdxSim.Cpu.Tests.Differential;

/// <summary>The harness itself: the native sandbox computes what the SDM says, and the generator is reproducible and safe.</summary>
[Collection(DifferentialCollection.Name)]
public sealed class HarnessTests(DifferentialFixture fixture)
{
    [NativeFact]
    public void NativeSandbox_RunsCodeAndCapturesRegistersFlagsAndMemory()
    {
        Harness h = fixture.Harness;
        SandboxLayout l = h.Layout;
        var a = new Assembler(64);
        a.add(AssemblerRegisters.rax, AssemblerRegisters.rbx);        // 0xFFFF_FFFF_FFFF_FFFF + 1: CF ZF PF AF, result 0
        a.mov(AssemblerRegisters.__qword_ptr[(long)l.Data + 8], AssemblerRegisters.rcx);
        a.push(AssemblerRegisters.rcx);
        a.mov(AssemblerRegisters.rdx, AssemblerRegisters.rsp);
        a.jmp(h.Native.Epilogue);
        var writer = new ByteListWriter();
        a.Assemble(writer, l.Code);

        var input = new MachineState { Rflags = h.Native.HostFixedRflags };
        input.Gprs[Gpr.Rax] = ulong.MaxValue;
        input.Gprs[Gpr.Rbx] = 1;
        input.Gprs[Gpr.Rcx] = 0x1122_3344_5566_7788;
        input.Gprs[Gpr.Rsp] = l.StackTop;
        input.Gprs[Gpr.R15] = 0xDEAD;
        MachineState output = h.Native.Run(writer.ToArray(), input);

        Assert.Equal(0UL, output.Gprs[Gpr.Rax]);
        Assert.Equal(X86Flags.Cf | X86Flags.Zf | X86Flags.Pf | X86Flags.Af, output.Rflags & X86Flags.Compared);
        Assert.Equal(l.StackTop - 8, output.Gprs[Gpr.Rsp]);
        Assert.Equal(l.StackTop - 8, output.Gprs[Gpr.Rdx]);
        Assert.Equal(0xDEADUL, output.Gprs[Gpr.R15]);
        Assert.Equal(0x1122_3344_5566_7788UL, BitConverter.ToUInt64(output.Data, 8));
        Assert.Equal(0x1122_3344_5566_7788UL, BitConverter.ToUInt64(output.Stack, SandboxLayout.StackWindow - 8));
        Assert.Equal(X86Flags.If, h.Native.HostFixedRflags & X86Flags.If);
    }

    [NativeFact]
    public void Generator_SameSeed_SameSequence()
    {
        Harness h = fixture.Harness;

        TestSequence a = h.Generator.Generate(1234, 8);
        TestSequence b = h.Generator.Generate(1234, 8);
        TestSequence c = h.Generator.Generate(1235, 8);

        Assert.Equal(a.Code, b.Code);
        Assert.Equal(a.Input.Gprs, b.Input.Gprs);
        Assert.Equal(a.Input.Data, b.Input.Data);
        Assert.Equal(a.UndefinedFlags, b.UndefinedFlags);
        Assert.NotEqual(a.Code, c.Code);
    }

    [NativeFact]
    public void Generator_CoversEveryFamilyAndStaysInTheSandbox()
    {
        Harness h = fixture.Harness;
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var mnemonics = new HashSet<Mnemonic>();
        for (int seed = 0; seed < 2000; seed++)
        {
            TestSequence s = h.Generator.Generate(seed, 8);
            Assert.True(s.Code.Length <= SandboxLayout.MaxCodeSize);
            foreach (Instruction i in s.Instructions)
            {
                seen.Add(InstructionCatalog.FamilyOf(i.Mnemonic));
                mnemonics.Add(i.Mnemonic);
            }
        }

        Assert.Empty(h.Catalog.FamilyNames.Except(seen));
        Assert.Contains(Mnemonic.Popfq, mnemonics);
        Assert.Contains(Mnemonic.Movsb, mnemonics);
        Assert.Contains(Mnemonic.Scasq, mnemonics);
        Assert.Contains(Mnemonic.Jmp, mnemonics);
        Assert.Contains(Mnemonic.Jle, mnemonics);
    }

    [Theory]
    [InlineData(Mnemonic.Shl, 32, 0UL, 0UL, 0UL)]
    [InlineData(Mnemonic.Shl, 32, 32UL, 0UL, 0UL)] // masked to 0: nothing changes
    [InlineData(Mnemonic.Shl, 32, 1UL, X86Flags.Cf | X86Flags.Sf | X86Flags.Zf | X86Flags.Pf | X86Flags.Of, X86Flags.Af)]
    [InlineData(Mnemonic.Shl, 8, 9UL, X86Flags.Sf | X86Flags.Zf | X86Flags.Pf, X86Flags.Cf | X86Flags.Af | X86Flags.Of)]
    [InlineData(Mnemonic.Sar, 8, 9UL, X86Flags.Cf | X86Flags.Sf | X86Flags.Zf | X86Flags.Pf, X86Flags.Af | X86Flags.Of)]
    [InlineData(Mnemonic.Rol, 64, 65UL, X86Flags.Cf | X86Flags.Of, 0UL)]
    [InlineData(Mnemonic.Rcr, 16, 17UL, 0UL, X86Flags.Of)] // 17 mod 17: nothing rotates, CF stays
    [InlineData(Mnemonic.Rcr, 8, 9UL, 0UL, X86Flags.Of)]
    [InlineData(Mnemonic.Rcl, 8, 10UL, X86Flags.Cf, X86Flags.Of)]
    [InlineData(Mnemonic.Rcl, 32, 33UL, X86Flags.Cf | X86Flags.Of, 0UL)]
    [InlineData(Mnemonic.Shld, 64, 64UL, 0UL, 0UL)]
    public void ShiftFlags_FollowTheSdm(Mnemonic m, int bits, ulong count, ulong defined, ulong undefined)
    {
        Assert.Equal((defined, undefined), SequenceGenerator.ShiftFlags(m, bits, count));
    }
}
