using Iced.Intel;
using TdxSim.Abi;
using TdxSim.Images;
using TdxSim.Memory;

namespace TdxSim.Cpu.Tests.Interpreter;

/// <summary>
/// A small machine for instruction tests: private memory (1 MiB by default, all accepted), one <see cref="Cpu"/>,
/// a program assembled at <see cref="CodeBase"/>, RSP at the top of memory, and helpers to run to the final HLT.
/// </summary>
internal sealed class Guest : IDisposable
{
    public const ulong CodeBase = 0x1000;
    public const ulong DataBase = 0x8000;

    public Guest(Action<Assembler> emit, ulong memorySize = 1 << 20, bool acceptAll = true, CpuOptions? options = null)
        : this(GuestProgram.Assemble(CodeBase, emit), memorySize, acceptAll, options)
    {
    }

    public Guest(GuestProgram program, ulong memorySize = 1 << 20, bool acceptAll = true, CpuOptions? options = null)
    {
        Program = program;
        Memory = new GuestPhysicalMemory(memorySize, acceptAll);
        if (!acceptAll)
        {
            for (ulong p = program.Origin & ~0xFFFUL; p < program.End; p += 0x1000)
            {
                Assert.Equal(AcceptResult.Success, Memory.Accept(p, 0));
            }
        }

        Assert.True(Memory.TryWritePrivate(program.Origin, program.Code));
        Cpu = new Cpu(Memory, 0, options);
        Cpu.State.Rip = program.Origin;
        Cpu.State.Gpr[Gpr.Rsp] = memorySize;
    }

    public GuestProgram Program { get; }

    public GuestPhysicalMemory Memory { get; }

    public Cpu Cpu { get; }

    public ref CpuState State => ref Cpu.State;

    public ulong this[Gpr r]
    {
        get => Cpu.State.Gpr[r];
        set => Cpu.State.Gpr[r] = value;
    }

    public ulong Rflags => Cpu.State.Rflags;

    /// <summary>Runs and expects the program to stop at a HLT (#VE HLT exit); returns the exit.</summary>
    public CpuExit RunToHlt(ulong limit = 10_000_000)
    {
        CpuExit exit = Cpu.Run(limit);
        Assert.True(
            exit.Kind == CpuExitKind.VirtualizationException && exit.Ve.ExitReason == VeExitReason.Hlt,
            $"expected HLT, got {exit}");
        return exit;
    }

    public CpuExit Run(ulong limit = 10_000_000) => Cpu.Run(limit);

    public void Write(ulong gpa, ReadOnlySpan<byte> bytes) => Assert.True(Memory.TryWritePrivate(gpa, bytes));

    public void Write64(ulong gpa, ulong value) => Write(gpa, BitConverter.GetBytes(value));

    public byte[] Read(ulong gpa, int length)
    {
        var buffer = new byte[length];
        Assert.True(Memory.TryReadPrivate(gpa, buffer));
        return buffer;
    }

    public ulong Read64(ulong gpa) => BitConverter.ToUInt64(Read(gpa, 8));

    public uint Read32(ulong gpa) => BitConverter.ToUInt32(Read(gpa, 4));

    public byte Read8(ulong gpa) => Read(gpa, 1)[0];

    /// <summary>Assembles, runs to HLT with the given initial registers, returns the guest for assertions.</summary>
    public static Guest RunProgram(Action<Assembler> emit, Action<Guest>? setup = null)
    {
        var g = new Guest(a =>
        {
            emit(a);
            a.hlt();
        });
        setup?.Invoke(g);
        g.RunToHlt();
        return g;
    }

    public void Dispose() => Memory.Dispose();
}
