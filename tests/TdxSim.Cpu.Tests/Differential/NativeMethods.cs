using System.Runtime.InteropServices;

namespace TdxSim.Cpu.Tests.Differential;

/// <summary>The few libc calls the native side needs (Linux x86-64 values of the constants).</summary>
internal static partial class NativeMethods
{
    public const int ProtRead = 1;
    public const int ProtWrite = 2;
    public const int ProtExec = 4;
    public const int MapPrivate = 0x02;
    public const int MapAnonymous = 0x20;

    /// <summary>MAP_FIXED_NOREPLACE (Linux 4.17): map exactly there, or fail rather than replace a mapping.</summary>
    public const int MapFixedNoReplace = 0x10_0000;

    public static readonly nint MapFailed = -1;

    [LibraryImport("libc", EntryPoint = "mmap", SetLastError = true)]
    public static partial nint Mmap(nint address, nuint length, int protection, int flags, int fd, nint offset);

    [LibraryImport("libc", EntryPoint = "mprotect", SetLastError = true)]
    public static partial int Mprotect(nint address, nuint length, int protection);

    [LibraryImport("libc", EntryPoint = "munmap", SetLastError = true)]
    public static partial int Munmap(nint address, nuint length);
}
