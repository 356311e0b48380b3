using Iced.Intel;

namespace TdxSim.Images;

/// <summary>
/// Builds guest code with Iced's <see cref="Assembler"/>, so tests and built-in guests never carry
/// hand-written machine code. The result is a flat image placed at <see cref="Origin"/>.
/// </summary>
/// <example>
/// <code>
/// var program = GuestProgram.Assemble(0x10_0000, a =>
/// {
///     a.mov(AssemblerRegisters.dx, 0x3F8);
///     a.mov(AssemblerRegisters.al, (byte)'A');
///     a.@out(AssemblerRegisters.dx, AssemblerRegisters.al);
///     a.hlt();
/// });
/// </code>
/// </example>
public sealed class GuestProgram
{
    private readonly Dictionary<string, ulong> _symbols;

    private GuestProgram(ulong origin, byte[] code, Dictionary<string, ulong> symbols)
    {
        Origin = origin;
        Code = code;
        _symbols = symbols;
    }

    /// <summary>Guest-physical address of the first byte.</summary>
    public ulong Origin { get; }

    /// <summary>The assembled bytes.</summary>
    public byte[] Code { get; }

    /// <summary>Address one past the last byte.</summary>
    public ulong End => Origin + (ulong)Code.Length;

    /// <summary>Symbols defined with <see cref="Builder.Define(string)"/>, by name.</summary>
    public IReadOnlyDictionary<string, ulong> Symbols => _symbols;

    /// <summary>The address of a symbol defined while assembling.</summary>
    /// <exception cref="KeyNotFoundException">No symbol of that name was defined.</exception>
    public ulong this[string symbol] => _symbols.TryGetValue(symbol, out ulong va)
        ? va
        : throw new KeyNotFoundException($"guest program has no symbol '{symbol}'");

    /// <summary>A flat image of this program, loaded at its origin and entered at <paramref name="entry"/> (default: the origin).</summary>
    public GuestImage ToImage(ulong? entry = null) =>
        new(GuestImageFormat.Flat, entry ?? Origin, [new ImageSegment(Origin, Code, (ulong)Code.Length)]);

    /// <summary>Assembles 64-bit code at <paramref name="origin"/>.</summary>
    public static GuestProgram Assemble(ulong origin, Action<Assembler> emit)
    {
        ArgumentNullException.ThrowIfNull(emit);
        return Assemble(origin, b => emit(b.Asm));
    }

    /// <summary>Assembles 64-bit code at <paramref name="origin"/>, with named symbols.</summary>
    public static GuestProgram Assemble(ulong origin, Action<Builder> emit)
    {
        ArgumentNullException.ThrowIfNull(emit);
        var builder = new Builder();
        emit(builder);
        var writer = new ByteWriter();
        AssemblerResult result = builder.Asm.Assemble(writer, origin, BlockEncoderOptions.ReturnNewInstructionOffsets);
        var symbols = new Dictionary<string, ulong>(StringComparer.Ordinal);
        foreach ((string name, Label label) in builder.Labels)
        {
            symbols[name] = LabelAddress(builder.Asm.Instructions, result, name, label);
        }

        return new GuestProgram(origin, writer.ToArray(), symbols);
    }

    /// <summary>
    /// Where a symbol's label landed. <see cref="Label"/> is a struct and <c>Assembler.Label(ref label)</c>
    /// records the instruction index only in the caller's copy, so the index is found the way the
    /// assembler itself marks it: the labelled instruction carries the label id as its IP until encoding.
    /// </summary>
    private static ulong LabelAddress(IReadOnlyList<Instruction> instructions, AssemblerResult result, string name, Label label)
    {
        for (int i = 0; i < instructions.Count; i++)
        {
            if (instructions[i].IP == label.Id)
            {
                BlockEncoderResult block = result.Result[0];
                return block.RIP + block.NewInstructionOffsets[i];
            }
        }

        throw new InvalidOperationException($"guest program symbol '{name}' was created but never placed with Asm.Label");
    }

    /// <summary>An assembler plus named labels that become <see cref="Symbols"/>.</summary>
    public sealed class Builder
    {
        internal Builder()
        {
        }

        /// <summary>The underlying Iced assembler (64-bit).</summary>
        public Assembler Asm { get; } = new(64);

        internal List<(string Name, Label Label)> Labels { get; } = [];

        /// <summary>Creates a label whose address is published under <paramref name="name"/>; place it with <c>Asm.Label(ref label)</c>.</summary>
        public Label Symbol(string name)
        {
            Label label = Asm.CreateLabel(name);
            Labels.Add((name, label));
            return label;
        }

        /// <summary>Defines <paramref name="name"/> at the current position.</summary>
        public void Define(string name)
        {
            Label label = Symbol(name);
            Asm.Label(ref label);
        }
    }

    private sealed class ByteWriter : CodeWriter
    {
        private readonly List<byte> _bytes = new(256);

        public override void WriteByte(byte value) => _bytes.Add(value);

        public byte[] ToArray() => [.. _bytes];
    }
}
