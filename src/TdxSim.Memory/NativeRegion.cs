using System.Runtime.InteropServices;

namespace TdxSim.Memory;

/// <summary>
/// A zero-filled, lazily committed block of host memory. On Linux it is an anonymous private
/// mapping with MAP_NORESERVE, so pages the guest never touches cost no RAM and no swap
/// reservation; released ranges go back to the kernel with MADV_DONTNEED and read as zero again.
/// Elsewhere it falls back to <see cref="NativeMemory.AllocZeroed(nuint)"/>.
/// </summary>
internal sealed unsafe partial class NativeRegion : IDisposable
{
    private const int ProtRead = 1;
    private const int ProtWrite = 2;
    private const int MapPrivate = 0x02;
    private const int MapAnonymous = 0x20;
    private const int MapNoReserve = 0x4000;
    private const int MadvDontNeed = 4;
    private const ulong HostPage = 4096;

    private readonly bool _mapped;
    private byte* _base;

    public NativeRegion(ulong size)
    {
        if (size == 0)
        {
            throw new ArgumentOutOfRangeException(nameof(size), "a native region must not be empty");
        }

        Size = size;
        if (OperatingSystem.IsLinux())
        {
            nint p = Mmap(0, (nuint)size, ProtRead | ProtWrite, MapPrivate | MapAnonymous | MapNoReserve, -1, 0);
            if (p == -1)
            {
                throw new OutOfMemoryException($"mmap of {size} bytes failed (errno {Marshal.GetLastPInvokeError()})");
            }

            _base = (byte*)p;
            _mapped = true;
        }
        else
        {
            _base = (byte*)NativeMemory.AllocZeroed((nuint)size);
        }
    }

    ~NativeRegion() => Release();

    public byte* Base => _base;

    public ulong Size { get; }

    /// <summary>Zeroes <paramref name="length"/> bytes at <paramref name="offset"/>; large aligned runs are handed back to the kernel.</summary>
    public void Zero(ulong offset, ulong length)
    {
        if (length == 0)
        {
            return;
        }

        if (_mapped && length >= 16 * HostPage && offset % HostPage == 0 && length % HostPage == 0
            && Madvise((nint)(_base + offset), (nuint)length, MadvDontNeed) == 0)
        {
            return;
        }

        byte* p = _base + offset;
        while (length > 0)
        {
            uint chunk = (uint)Math.Min(length, 1UL << 30);
            NativeMemory.Clear(p, chunk);
            p += chunk;
            length -= chunk;
        }
    }

    public void Dispose()
    {
        Release();
        GC.SuppressFinalize(this);
    }

    private void Release()
    {
        if (_base == null)
        {
            return;
        }

        if (_mapped)
        {
            _ = Munmap((nint)_base, (nuint)Size);
        }
        else
        {
            NativeMemory.Free(_base);
        }

        _base = null;
    }

    [LibraryImport("libc", EntryPoint = "mmap", SetLastError = true)]
    private static partial nint Mmap(nint addr, nuint length, int prot, int flags, int fd, nint offset);

    [LibraryImport("libc", EntryPoint = "munmap")]
    private static partial int Munmap(nint addr, nuint length);

    [LibraryImport("libc", EntryPoint = "madvise")]
    private static partial int Madvise(nint addr, nuint length, int advice);
}
