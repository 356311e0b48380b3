using System.Diagnostics;
using System.Text;
using TdxSim.Abi;
using TdxSim.Memory;
using Xunit.Abstractions;

namespace TdxSim.Cpu.Tests.Interpreter;

/// <summary>The crc32 anchor guest (shared/anchors) must print its known result through emulated port I/O.</summary>
public sealed class AnchorTests(ITestOutputHelper output)
{
    private const ulong LoadAddress = 0x10_0000;

    [Fact]
    public void Crc32Guest_RunsToDebugExit_PrintsKnownChecksum()
    {
        string? path = FindAnchor();
        Assert.True(path != null, "crc32-guest.bin not found");
        using var memory = new GuestPhysicalMemory(4 << 20);
        Assert.True(memory.TryWritePrivate(LoadAddress, File.ReadAllBytes(path)));
        var cpu = new Cpu(memory);
        cpu.State.Rip = LoadAddress;
        cpu.State.Gpr[Gpr.Rsp] = 4 << 20;
        var text = new StringBuilder();
        var watch = Stopwatch.StartNew();
        while (true)
        {
            CpuExit exit = cpu.Run(ulong.MaxValue);
            Assert.Equal(CpuExitKind.VirtualizationException, exit.Kind);
            Assert.Equal(VeExitReason.IoInstruction, exit.Ve.ExitReason);
            ulong q = exit.Ve.ExitQualification;
            ushort port = IoQualification.Port(q);
            if (IoQualification.IsIn(q))
            {
                Assert.Equal(0x3FD, port);
                cpu.State.Gpr[Gpr.Rax] = (cpu.State.Gpr[Gpr.Rax] & ~0xFFUL) | 0x20;
            }
            else if (port == 0x3F8)
            {
                text.Append((char)(byte)cpu.State.Gpr[Gpr.Rax]);
            }
            else
            {
                Assert.Equal(0xF4, port);
                break;
            }

            cpu.State.Rip += exit.Ve.InstructionLength;
        }

        watch.Stop();
        Assert.Equal("crc32=27951c8c\n", text.ToString());
        output.WriteLine($"{cpu.State.InstructionsRetired} instructions in {watch.Elapsed.TotalMilliseconds:F0} ms: {cpu.State.InstructionsRetired / watch.Elapsed.TotalSeconds / 1e6:F1} M/s");
    }

    /// <summary>The crc32-guest.bin anchor (see <see cref="Loaders.AnchorFiles"/> for where it is looked up).</summary>
    internal static string? FindAnchor() => Loaders.AnchorFiles.Path("crc32-guest.bin");
}
