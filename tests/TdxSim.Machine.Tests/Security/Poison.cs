using System.Buffers.Binary;
using TdxSim.Abi;

namespace TdxSim.Machine.Tests.Security;

/// <summary>
/// Recognizable poison: every guest GPR at vCPU start holds <c>0x5A5A_5A5A_5A5A_5A00 | index</c> (RSP, RDI, RSI keep
/// their contract values), and every accepted private byte not loaded by the image holds the 8-byte cycle
/// <c>"TDXPRIV!"</c>. A hit is any 4-byte window of the register marker (<c>5A 5A 5A 5A</c>) or of the memory cycle,
/// so a value the guest built partly from poison (a byte or word written over a poisoned register) is still caught.
/// </summary>
internal static class Poison
{
    /// <summary>The memory poison cycle.</summary>
    public static ReadOnlySpan<byte> MemoryPattern => "TDXPRIV!"u8;

    /// <summary>Registers that keep their contract values (they carry no secret and the guest needs them).</summary>
    public const ushort KeptRegisters = (1 << (int)Gpr.Rsp) | (1 << (int)Gpr.Rdi) | (1 << (int)Gpr.Rsi);

    /// <summary>The poison of register <paramref name="index"/>.</summary>
    public static ulong Register(int index) => 0x5A5A_5A5A_5A5A_5A00UL | (uint)index;

    private static readonly uint[] Windows = BuildWindows();

    private static uint[] BuildWindows()
    {
        var w = new List<uint> { 0x5A5A_5A5A };
        ReadOnlySpan<byte> p = MemoryPattern;
        Span<byte> twice = stackalloc byte[16];
        p.CopyTo(twice);
        p.CopyTo(twice[8..]);
        for (int i = 0; i < 8; i++)
        {
            w.Add(BinaryPrimitives.ReadUInt32LittleEndian(twice[i..]));
        }

        return [.. w];
    }

    /// <summary>Fills <paramref name="buffer"/> with the memory cycle, phase taken from <paramref name="gpa"/>.</summary>
    public static void Fill(Span<byte> buffer, ulong gpa)
    {
        ReadOnlySpan<byte> p = MemoryPattern;
        for (int i = 0; i < buffer.Length; i++)
        {
            buffer[i] = p[(int)((gpa + (ulong)i) & 7)];
        }
    }

    /// <summary>Offset of the first poison window in <paramref name="bytes"/>, or -1.</summary>
    public static int Find(ReadOnlySpan<byte> bytes)
    {
        for (int i = 0; i + 4 <= bytes.Length; i++)
        {
            uint v = BinaryPrimitives.ReadUInt32LittleEndian(bytes[i..]);
            if (Array.IndexOf(Windows, v) >= 0)
            {
                return i;
            }
        }

        return -1;
    }

    /// <summary>True when the 64-bit value <paramref name="value"/> carries poison in any 4-byte window.</summary>
    public static bool In(ulong value)
    {
        Span<byte> b = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(b, value);
        return Find(b) >= 0;
    }
}
