using System.Globalization;
using System.Text;
using TdxSim.Abi;

namespace TdxSim.Cpu.Tests.Differential;

/// <summary>Compares the native and interpreted results of one sequence and explains any difference.</summary>
internal static class StateComparer
{
    /// <summary>Null when equal; otherwise the list of differences, one a line.</summary>
    public static string? Compare(TestSequence sequence, MachineState native, MachineState interpreted, SandboxLayout layout)
    {
        var diff = new StringBuilder();
        for (int i = 0; i < Gprs.Count; i++)
        {
            if (native.Gprs[i] != interpreted.Gprs[i])
            {
                diff.Append(CultureInfo.InvariantCulture, $"  {(Gpr)i,-4} native 0x{native.Gprs[i]:x16}  interpreter 0x{interpreted.Gprs[i]:x16}  (input 0x{sequence.Input.Gprs[i]:x16})\n");
            }
        }

        ulong mask = X86Flags.Compared & ~sequence.UndefinedFlags;
        ulong flagDiff = (native.Rflags ^ interpreted.Rflags) & mask;
        if (flagDiff != 0)
        {
            diff.Append(CultureInfo.InvariantCulture,
                $"  RFLAGS native 0x{native.Rflags:x}  interpreter 0x{interpreted.Rflags:x}  differ in {X86Flags.Describe(flagDiff)} (undefined, not compared: {X86Flags.Describe(sequence.UndefinedFlags)})\n");
        }

        CompareBytes(diff, "data", layout.Data, native.Data, interpreted.Data, 0);

        // Only the live stack: bytes below the final RSP are dead (and natively a signal frame may have landed there).
        ulong rsp = native.Gprs[Gpr.Rsp];
        int from = rsp >= layout.StackWindowStart && rsp < layout.StackWindowEnd ? (int)(rsp - layout.StackWindowStart) : 0;
        CompareBytes(diff, "stack", layout.StackWindowStart, native.Stack, interpreted.Stack, from);
        return diff.Length == 0 ? null : diff.ToString();
    }

    private static void CompareBytes(StringBuilder diff, string what, ulong address, byte[] native, byte[] interpreted, int from)
    {
        int shown = 0;
        for (int i = from; i < native.Length; i++)
        {
            if (native[i] == interpreted[i])
            {
                continue;
            }

            if (shown++ < 8)
            {
                diff.Append(CultureInfo.InvariantCulture, $"  {what} byte 0x{address + (ulong)i:x}: native 0x{native[i]:x2}  interpreter 0x{interpreted[i]:x2}\n");
            }
        }

        if (shown > 8)
        {
            diff.Append(CultureInfo.InvariantCulture, $"  ... {shown - 8} more {what} bytes differ\n");
        }
    }

    /// <summary>A full report: seed, disassembly, input registers and the differences.</summary>
    public static string Report(TestSequence sequence, SandboxLayout layout, string differences)
    {
        var text = new StringBuilder();
        text.Append(CultureInfo.InvariantCulture, $"seed {sequence.Seed}: {sequence.Instructions.Count} instructions, base {sequence.BaseRegister}, index {sequence.IndexRegister}\n");
        text.Append(sequence.Disassemble(layout.Code));
        text.Append("input:");
        for (int i = 0; i < Gprs.Count; i++)
        {
            text.Append(CultureInfo.InvariantCulture, $"{(i % 4 == 0 ? "\n " : string.Empty)} {(Gpr)i,-4}=0x{sequence.Input.Gprs[i]:x16}");
        }

        text.Append(CultureInfo.InvariantCulture, $"\n  RFLAGS=0x{sequence.Input.Rflags:x}\ndifferences:\n{differences}");
        return text.ToString();
    }
}
