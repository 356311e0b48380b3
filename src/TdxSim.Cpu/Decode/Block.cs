using TdxSim.Cpu.Exec;

namespace TdxSim.Cpu.Decode;

/// <summary>
/// A decoded basic block: consecutive ops from one guest page (the last instruction may straddle into the next),
/// ending at a control transfer, an exiting instruction, a page boundary or the size cap. It stays usable while
/// the code generations of its page(s) are the ones seen when it was decoded.
/// </summary>
internal sealed unsafe class Block
{
    private readonly Op[] _ops;

    public Block(ulong start, Op[] ops, int count, string?[]? details, uint* gen0, uint gen0Value, uint* gen1, uint gen1Value)
    {
        Start = start;
        _ops = ops;
        Ops = (Op*)System.Runtime.CompilerServices.Unsafe.AsPointer(ref ops[0]);
        Count = count;
        Details = details;
        End = Ops[count - 1].NextRip;
        Gen0 = gen0;
        Gen0Value = gen0Value;
        Gen1 = gen1;
        Gen1Value = gen1Value;
    }

    public ulong Start { get; }

    /// <summary>Address after the last instruction: RIP when the block falls through.</summary>
    public ulong End { get; }

    /// <summary>The ops, in an array on the pinned object heap.</summary>
    public Op* Ops { get; }

    public int Count { get; }

    /// <summary>Per-op fault text for decode-time #UD ops, else null.</summary>
    public string?[]? Details { get; }

    public uint* Gen0 { get; }

    public uint Gen0Value { get; }

    public uint* Gen1 { get; }

    public uint Gen1Value { get; }

    /// <summary>The TLB epoch at which the block's linear pages last translated to <see cref="PhysPage0"/> and
    /// <see cref="PhysPage1"/> (paging on; with paging off the epoch never moves).</summary>
    public ulong Epoch { get; set; }

    /// <summary>Guest-physical page number of the block's first page.</summary>
    public ulong PhysPage0 { get; init; }

    /// <summary>Linear and guest-physical page numbers of a second page (the last instruction straddles), else all ones.</summary>
    public ulong LinearPage1 { get; init; } = ulong.MaxValue;

    /// <inheritdoc cref="LinearPage1"/>
    public ulong PhysPage1 { get; init; } = ulong.MaxValue;

    /// <summary>False once dropped from the cache.</summary>
    public bool Live { get; set; } = true;

    // Two successor links (taken / fall-through) so hot loops skip the cache lookup.
    public ulong Link0Rip { get; set; } = ulong.MaxValue;

    public Block? Link0 { get; set; }

    public ulong Link1Rip { get; set; } = ulong.MaxValue;

    public Block? Link1 { get; set; }

    /// <summary>True while no write has touched the code this block was decoded from.</summary>
    public bool IsCurrent => Live && *Gen0 == Gen0Value && *Gen1 == Gen1Value;

    /// <summary>Keeps the op array reachable (the pointer alone does not).</summary>
    public int Capacity => _ops.Length;
}
