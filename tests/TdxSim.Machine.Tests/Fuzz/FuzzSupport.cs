using System.Buffers.Binary;
using System.Collections.Concurrent;
using FsCheck;
using FsCheck.Fluent;

namespace TdxSim.Machine.Tests.Fuzz;

/// <summary>
/// Shared pieces of the fuzz properties: executions per target (scaled by <c>TDXSIM_FUZZ_SCALE</c> for a long run),
/// seeds of valid inputs to mutate, and the mutator.
/// </summary>
internal static class FuzzSupport
{
    /// <summary>Executions so far, per target, in this test process (a long run prints them).</summary>
    public static readonly ConcurrentDictionary<string, long> Executions = new(StringComparer.Ordinal);

    /// <summary>Multiplier of every target's executions: <c>TDXSIM_FUZZ_SCALE=100</c> for a long run.</summary>
    public static int Scale => int.TryParse(Environment.GetEnvironmentVariable("TDXSIM_FUZZ_SCALE"), out int s) && s > 0 ? s : 1;

    /// <summary>Runs <paramref name="property"/> over <paramref name="executions"/> x <see cref="Scale"/> inputs, throwing on the first failure.</summary>
    public static void Check<T>(string target, int executions, Arbitrary<T> inputs, Action<T> property)
    {
        int n = executions * Scale;
        Prop.ForAll(inputs, input =>
        {
            Executions.AddOrUpdate(target, 1, (_, v) => v + 1);
            property(input);
        }).Check(Config.QuickThrowOnFailure.WithMaxTest(n).WithQuietOnSuccess(true));
        string? report = Environment.GetEnvironmentVariable("TDXSIM_FUZZ_REPORT");
        if (!string.IsNullOrEmpty(report))
        {
            File.AppendAllText(report, $"{target}\t{Executions[target]}\n");
        }
    }

    /// <summary>Random byte arrays of 0 to <paramref name="maxLength"/> bytes.</summary>
    public static Gen<byte[]> Bytes(int maxLength)
        => Gen.Choose(0, maxLength).SelectMany(n => Gen.ArrayOf(Gen.Choose(0, 255).Select(b => (byte)b), n));

    /// <summary>
    /// Mutations of <paramref name="seed"/>: a few byte flips, interesting values written at random offsets
    /// (0, all ones, sign bits, sizes), truncation or extension, driven by a generated seed so FsCheck can replay it.
    /// </summary>
    /// <param name="seed">The valid input.</param>
    /// <param name="fields">Offsets of the format's header fields, where interesting values are written most often.</param>
    public static Gen<byte[]> Mutations(byte[] seed, int[]? fields = null)
        => Gen.Choose(0, int.MaxValue).Select(s => Mutate(seed, s, fields));

    /// <summary>ELF64 header and program-header field offsets.</summary>
    public static readonly int[] ElfFields = [4, 5, 16, 18, 20, 24, 32, 40, 52, 54, 56, 58, 60, 62, 64, 68, 72, 80, 88, 96, 104, 112];

    /// <summary>Setup-header field offsets of the x86 boot protocol.</summary>
    public static readonly int[] BzImageFields = [0x1F1, 0x1FE, 0x201, 0x202, 0x206, 0x211, 0x214, 0x218, 0x21C, 0x22C, 0x230, 0x234, 0x236, 0x238, 0x258, 0x260];

    /// <summary>The mutation of <paramref name="original"/> that <paramref name="seed"/> picks (deterministic).</summary>
    public static byte[] Mutate(byte[] original, int seed, int[]? fields = null)
    {
        var r = new Random(seed);
        byte[] b = (byte[])original.Clone();
        int edits = 1 + r.Next(6);
        for (int e = 0; e < edits && b.Length > 0; e++)
        {
            int at = r.Next(b.Length);
            switch (r.Next(fields is null ? 6 : 8))
            {
                case 0:
                    b[at] = (byte)r.Next(256);
                    break;
                case 1:
                    b[at] ^= (byte)(1 << r.Next(8));
                    break;
                case 2:
                    WriteValue(b, at, Interesting[r.Next(Interesting.Length)], 1 << r.Next(4));
                    break;
                case 3:
                    // A header field: the ELF and boot-protocol headers live in the first 0x300 bytes.
                    WriteValue(b, r.Next(Math.Min(b.Length, 0x300)), Interesting[r.Next(Interesting.Length)], 1 << r.Next(4));
                    break;
                case 4:
                    Array.Resize(ref b, r.Next(b.Length + 1));
                    break;
                case 5:
                    Array.Resize(ref b, b.Length + r.Next(64));
                    break;
                default:
                    WriteValue(b, fields![r.Next(fields.Length)], Interesting[r.Next(Interesting.Length)], 1 << r.Next(4));
                    break;
            }
        }

        return b;
    }

    private static readonly ulong[] Interesting =
    [
        0, 1, 2, 0x7F, 0x80, 0xFF, 0x100, 0x7FFF, 0x8000, 0xFFFF, 0x1000, 0x10_0000, 0x7FFF_FFFF, 0x8000_0000,
        0xFFFF_FFFF, 0x1_0000_0000, 0x8000_0000_0000, 0x7FFF_FFFF_FFFF_FFFF, 0x8000_0000_0000_0000, ulong.MaxValue,
        ulong.MaxValue - 0xFFF, 0xFFFF_FFFF_FFFF_F000,
    ];

    private static void WriteValue(byte[] b, int at, ulong value, int size)
    {
        Span<byte> tmp = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(tmp, value);
        for (int i = 0; i < size && at + i < b.Length; i++)
        {
            b[at + i] = tmp[i];
        }
    }

    /// <summary>A small valid ELF64 executable: one PT_LOAD of the whole file at 0x100000, entry just past the headers.</summary>
    public static byte[] ValidElf()
    {
        byte[] code = [0xFA, 0xF4, 0xEB, 0xFD, 0x90, 0x90, 0x90, 0x90]; // cli; hlt; jmp $-1
        var f = new byte[120 + code.Length];
        Span<byte> s = f;
        s[0] = 0x7F;
        s[1] = (byte)'E';
        s[2] = (byte)'L';
        s[3] = (byte)'F';
        s[4] = 2;   // ELFCLASS64
        s[5] = 1;   // little endian
        s[6] = 1;   // EV_CURRENT
        BinaryPrimitives.WriteUInt16LittleEndian(s[16..], 2);        // ET_EXEC
        BinaryPrimitives.WriteUInt16LittleEndian(s[18..], 0x3E);     // EM_X86_64
        BinaryPrimitives.WriteUInt32LittleEndian(s[20..], 1);
        BinaryPrimitives.WriteUInt64LittleEndian(s[24..], 0x10_0000 + 120);
        BinaryPrimitives.WriteUInt64LittleEndian(s[32..], 64);       // e_phoff
        BinaryPrimitives.WriteUInt16LittleEndian(s[52..], 64);       // e_ehsize
        BinaryPrimitives.WriteUInt16LittleEndian(s[54..], 56);       // e_phentsize
        BinaryPrimitives.WriteUInt16LittleEndian(s[56..], 1);        // e_phnum
        BinaryPrimitives.WriteUInt16LittleEndian(s[58..], 64);       // e_shentsize
        BinaryPrimitives.WriteUInt32LittleEndian(s[64..], 1);        // PT_LOAD
        BinaryPrimitives.WriteUInt32LittleEndian(s[68..], 5);        // R X
        BinaryPrimitives.WriteUInt64LittleEndian(s[72..], 0);        // p_offset
        BinaryPrimitives.WriteUInt64LittleEndian(s[80..], 0x10_0000);
        BinaryPrimitives.WriteUInt64LittleEndian(s[88..], 0x10_0000);
        BinaryPrimitives.WriteUInt64LittleEndian(s[96..], (ulong)f.Length);
        BinaryPrimitives.WriteUInt64LittleEndian(s[104..], (ulong)f.Length);
        BinaryPrimitives.WriteUInt64LittleEndian(s[112..], 0x1000);
        code.CopyTo(s[120..]);
        return f;
    }

    /// <summary>A small valid bzImage: boot protocol 2.15, a 64-bit entry, 4 KiB of protected-mode kernel.</summary>
    public static byte[] ValidBzImage()
    {
        var f = new byte[(5 * 512) + 0x1000];
        Span<byte> s = f;
        s[0x1F1] = 4;                                                  // setup_sects
        BinaryPrimitives.WriteUInt16LittleEndian(s[0x1FE..], 0xAA55);
        s[0x200] = 0xEB;
        s[0x201] = 0x6A;                                               // header ends at 0x26C
        BinaryPrimitives.WriteUInt32LittleEndian(s[0x202..], 0x53726448);
        BinaryPrimitives.WriteUInt16LittleEndian(s[0x206..], 0x020F);
        s[0x211] = 1;
        BinaryPrimitives.WriteUInt32LittleEndian(s[0x214..], 0x10_0000);
        BinaryPrimitives.WriteUInt32LittleEndian(s[0x22C..], 0x7FFF_FFFF);
        BinaryPrimitives.WriteUInt32LittleEndian(s[0x230..], 0x20_0000);
        s[0x234] = 1;
        BinaryPrimitives.WriteUInt16LittleEndian(s[0x236..], 0x3);
        BinaryPrimitives.WriteUInt32LittleEndian(s[0x238..], 0x7FF);
        BinaryPrimitives.WriteUInt64LittleEndian(s[0x258..], 0x100_0000);
        BinaryPrimitives.WriteUInt32LittleEndian(s[0x260..], 0x40_0000);
        return f;
    }
}
