namespace TdxSim.TdxModule.Memory;

/// <summary>
/// What the TDX module needs from guest-physical memory: the Secure-EPT view of private pages (state and
/// TDG.MEM.PAGE.ACCEPT) and trusted byte access for the leaves that read or write guest memory
/// (TDG.MR.REPORT, TDG.MR.RTMR.EXTEND). The machine adapts <c>TdxSim.Memory.GuestPhysicalMemory</c> with
/// <see cref="GuestPhysicalMemoryAdapter"/>; tests use a fake.
/// <para>Implementations must be safe for concurrent use by several vCPUs.</para>
/// </summary>
public interface ITdMemory
{
    /// <summary>Size of private memory in bytes; private memory is <c>[0, PrivateSize)</c>.</summary>
    ulong PrivateSize { get; }

    /// <summary>The Secure-EPT state of the private 4 KiB page holding <paramref name="gpa"/> (shared bit clear).</summary>
    TdPageState GetPageState(ulong gpa);

    /// <summary>
    /// Moves a pending private page (level 0, 4 KiB) or a 2 MiB range of pending pages (level 1) to accepted.
    /// On <see cref="TdAcceptResult.Success"/> every accepted byte reads zero (the module's page initialization,
    /// reference 4.3). The module has already checked level, alignment, the shared bit and GPAW.
    /// </summary>
    TdAcceptResult Accept(ulong gpa, int level);

    /// <summary>Reads accepted private memory; false (nothing read) when any byte is not accepted private memory.</summary>
    bool TryReadPrivate(ulong gpa, Span<byte> destination);

    /// <summary>Writes accepted private memory; false (nothing written) when any byte is not accepted private memory.</summary>
    bool TryWritePrivate(ulong gpa, ReadOnlySpan<byte> source);

    /// <summary>Reads shared memory at a GPA with the shared bit set; false when no shared page is behind every byte.</summary>
    bool TryReadShared(ulong gpa, Span<byte> destination);

    /// <summary>Writes shared memory at a GPA with the shared bit set; false when no shared page is behind every byte.</summary>
    bool TryWriteShared(ulong gpa, ReadOnlySpan<byte> source);
}
