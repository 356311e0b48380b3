using TdxSim.Memory;

namespace TdxSim.Vmm.Memory;

/// <summary>
/// The VMM's view of guest memory: what an untrusted host can do (reference 4.2). Every GPA here is the page's
/// address <em>without</em> the shared bit, as KVM hands MapGPA ranges to user space. Implementations must be
/// thread-safe: several vCPUs' TDVMCALLs may reach the VMM at once.
/// </summary>
public interface IHostMemory
{
    /// <summary>Size of private memory <c>[0, PrivateSize)</c>; only these pages have a shared alias that can be converted.</summary>
    ulong PrivateSize { get; }

    /// <summary>Private to shared (MapGPA with the shared bit): contents are lost, zeroed shared pages appear.</summary>
    ConversionResult ConvertToShared(ulong gpa, ulong size);

    /// <summary>Shared to private (MapGPA without the shared bit): the shared pages go, the private pages become
    /// pending and read zero once accepted again.</summary>
    ConversionResult ConvertToPrivate(ulong gpa, ulong size);

    /// <summary>True when a shared page backs <paramref name="gpa"/>'s shared alias.</summary>
    bool IsSharedBacked(ulong gpa);

    /// <summary>Reads shared pages; false (nothing read) when any byte has no shared page.</summary>
    bool TryReadShared(ulong gpa, Span<byte> destination);

    /// <summary>Writes shared pages; false (nothing written) when any byte has no shared page.</summary>
    bool TryWriteShared(ulong gpa, ReadOnlySpan<byte> source);
}
