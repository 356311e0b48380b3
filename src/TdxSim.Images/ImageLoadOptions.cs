namespace TdxSim.Images;

/// <summary>
/// How <see cref="ImageLoader"/> places an image in the guest machine (contract sections 2 and 3:
/// <c>--load</c>, <c>--entry</c>, <c>--memory</c>, <c>--vcpus</c>).
/// </summary>
public sealed record ImageLoadOptions
{
    /// <summary>Default load address of a flat image (<c>--load</c>).</summary>
    public const ulong DefaultLoadAddress = 0x10_0000;

    /// <summary>Default private memory size (<c>--memory 64M</c>).</summary>
    public const ulong DefaultMemoryBytes = 64UL << 20;

    /// <summary>Size of each vCPU's stack, carved from the top of private memory (contract section 3).</summary>
    public const ulong VcpuStackBytes = 64UL << 10;

    /// <summary>Alignment required of a flat image's load address.</summary>
    public const ulong FlatLoadAlignment = 0x1000;

    /// <summary>Options with every default.</summary>
    public static ImageLoadOptions Default { get; } = new();

    /// <summary>Guest-physical address where a flat image's first byte goes; ignored for ELF.</summary>
    public ulong LoadAddress { get; init; } = DefaultLoadAddress;

    /// <summary>Entry point overriding the image's own (ELF e_entry, or the flat load address).</summary>
    public ulong? Entry { get; init; }

    /// <summary>Size of private memory <c>[0, MemoryBytes)</c>: every segment must fit below it.</summary>
    public ulong MemoryBytes { get; init; } = DefaultMemoryBytes;

    /// <summary>
    /// Number of vCPU stacks (<see cref="VcpuStackBytes"/> each) at the top of private memory that the
    /// image must not overlap; 0 checks only against the end of memory.
    /// </summary>
    public int VcpuStacks { get; init; }

    /// <summary>First byte of the stack area at the top of private memory (equal to <see cref="MemoryBytes"/> without stacks).</summary>
    public ulong StackAreaStart => MemoryBytes - ((ulong)VcpuStacks * VcpuStackBytes);

    /// <summary>Throws when the options themselves are inconsistent (they come from the machine, not the image).</summary>
    /// <exception cref="ArgumentOutOfRangeException">Memory size zero or beyond GPAW, or stacks not fitting in memory.</exception>
    public void Validate()
    {
        if (MemoryBytes == 0 || MemoryBytes > Abi.GuestPhysical.SharedBit)
        {
            throw new ArgumentOutOfRangeException(
                nameof(MemoryBytes), MemoryBytes, $"private memory must be between 1 byte and 0x{Abi.GuestPhysical.SharedBit:x} bytes (below the shared bit)");
        }

        if (VcpuStacks < 0 || (ulong)VcpuStacks * VcpuStackBytes > MemoryBytes)
        {
            throw new ArgumentOutOfRangeException(
                nameof(VcpuStacks), VcpuStacks, $"{VcpuStacks} vCPU stacks of 64 KiB do not fit in 0x{MemoryBytes:x} bytes of private memory");
        }
    }
}
