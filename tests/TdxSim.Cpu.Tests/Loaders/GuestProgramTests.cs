using Iced.Intel;
using TdxSim.Images;
using static Iced.Intel.AssemblerRegisters;

namespace TdxSim.Cpu.Tests.Loaders;

public sealed class GuestProgramTests
{
    [Fact]
    public void Assemble_DefinedSymbols_ResolveToTheirInstructionAddress()
    {
        GuestProgram p = GuestProgram.Assemble(0x10_0000, b =>
        {
            b.Asm.mov(eax, 1); // 5 bytes
            b.Define("second");
            b.Asm.nop();
            b.Define("third");
            b.Asm.hlt();
        });

        Assert.Equal(0x10_0005UL, p["second"]);
        Assert.Equal(0x10_0006UL, p["third"]);
        Assert.Equal(0x10_0007UL, p.End);
    }

    [Fact]
    public void Assemble_SymbolPlacedLaterByTheCaller_ResolvesAndCanBeJumpedTo()
    {
        GuestProgram p = GuestProgram.Assemble(0x2000, b =>
        {
            Label target = b.Symbol("target");
            b.Asm.jmp(target);
            b.Asm.int3();
            b.Asm.Label(ref target);
            b.Asm.hlt();
        });

        Assert.Equal(0x2003UL, p["target"]); // jmp rel8 (2) + int3 (1)
        var decoder = Decoder.Create(64, new ByteArrayCodeReader(p.Code), 0x2000);
        Assert.Equal(0x2003UL, decoder.Decode().NearBranchTarget);
    }

    [Fact]
    public void Assemble_SymbolNeverPlaced_Throws()
    {
        var e = Assert.Throws<InvalidOperationException>(() => GuestProgram.Assemble(0, b =>
        {
            _ = b.Symbol("lost");
            b.Asm.hlt();
        }));

        Assert.Contains("'lost'", e.Message);
    }

    [Fact]
    public void Indexer_UnknownSymbol_ThrowsKeyNotFound()
    {
        GuestProgram p = GuestProgram.Assemble(0, a => a.hlt());

        Assert.Throws<KeyNotFoundException>(() => p["nope"]);
    }
}
