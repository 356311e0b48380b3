using Iced.Intel;

namespace TdxSim.Cpu.Tests.Differential;

/// <summary>One generated test: the instructions, their bytes at <see cref="SandboxLayout.Code"/>, the input state, and what the comparison must ignore.</summary>
internal sealed class TestSequence
{
    public required int Seed { get; init; }

    public required IReadOnlyList<Instruction> Instructions { get; init; }

    /// <summary>The sequence's bytes (without the terminator each side appends).</summary>
    public required byte[] Code { get; init; }

    public required MachineState Input { get; init; }

    /// <summary>Status flags undefined at the end of the sequence (masked out of the comparison).</summary>
    public required ulong UndefinedFlags { get; init; }

    public required Register BaseRegister { get; init; }

    public required Register IndexRegister { get; init; }

    /// <summary>Disassembly of <see cref="Code"/>, one instruction a line with address and bytes.</summary>
    public string Disassemble(ulong address)
    {
        var decoder = Decoder.Create(64, new ByteArrayCodeReader(Code), address);
        var formatter = new IntelFormatter();
        formatter.Options.HexPrefix = "0x";
        formatter.Options.HexSuffix = string.Empty;
        var output = new StringOutput();
        var text = new System.Text.StringBuilder();
        while (decoder.IP < address + (ulong)Code.Length)
        {
            ulong ip = decoder.IP;
            Instruction instr = decoder.Decode();
            formatter.Format(instr, output);
            string bytes = Convert.ToHexString(Code, (int)(ip - address), instr.Length).ToLowerInvariant();
            text.Append(System.Globalization.CultureInfo.InvariantCulture, $"  {ip:x8}  {bytes,-30} {output.ToStringAndReset()}\n");
        }

        return text.ToString();
    }
}
