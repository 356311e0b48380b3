using System.Numerics;
using System.Runtime.CompilerServices;

namespace TdxSim.Cpu.Exec;

/// <summary>
/// Atomicity of LOCK-prefixed and XCHG memory accesses against other vCPUs on other threads (SDM Vol. 3A 9.1.2).
/// On an x86 host every location uses the host's interlocked instructions (LOCK CMPXCHG, XCHG), which are atomic at
/// any alignment, a split lock included: atomic against the other vCPUs' plain stores too, as the guest expects
/// (a spinlock word at an odd address, released by a plain MOV). Hosts without misaligned atomics (ARM64) fall back,
/// for a misaligned location only, to one process-wide lock: atomic against every other locked access, but not
/// against a plain store to the same bytes.
/// </summary>
internal static unsafe class Atomics
{
    private static readonly Lock SplitLock = new();

    /// <summary>True where the host's interlocked instructions accept any alignment (x86 and x64).</summary>
    private static readonly bool HostAtomicsAnyAlignment =
        System.Runtime.InteropServices.RuntimeInformation.ProcessArchitecture is System.Runtime.InteropServices.Architecture.X64
            or System.Runtime.InteropServices.Architecture.X86;

    /// <summary>Translates a locked read-modify-write access (exit stored and null returned on failure).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static byte* LockedPointer(CpuCore* c, ulong ea, uint size, ref int status) =>
        MemoryAccess.Write(c, ea, size, ref status, Access.ReadWrite);

    /// <summary>Opens an atomic scope over <paramref name="size"/> bytes at host address <paramref name="p"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static AtomicScope Scope(byte* p, int size) =>
        new(!HostAtomicsAnyAlignment && ((nuint)p & (nuint)(size - 1)) != 0 ? SplitLock : null);

    /// <summary>An atomic region: interlocked operations when aligned, the split lock otherwise.</summary>
    internal readonly ref struct AtomicScope
    {
        private readonly Lock? _split;

        public AtomicScope(Lock? split)
        {
            _split = split;
            _split?.Enter();
        }

        /// <summary>A plain read: x86 loads are not reordered with the compare-exchange that validates them.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public T Read<T>(ref T location)
            where T : unmanaged => location;

        /// <summary>Stores <paramref name="value"/> if the location still holds <paramref name="comparand"/>; returns what it held.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public T CompareExchange<T>(ref T location, T value, T comparand)
            where T : unmanaged, IBinaryInteger<T>
        {
            if (_split == null)
            {
                return Interlocked.CompareExchange(ref location, value, comparand);
            }

            T old = location;
            if (old == comparand)
            {
                location = value;
            }

            return old;
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public T Exchange<T>(ref T location, T value)
            where T : unmanaged
        {
            if (_split == null)
            {
                return Interlocked.Exchange(ref location, value);
            }

            T old = location;
            location = value;
            return old;
        }

        public void Dispose() => _split?.Exit();
    }

    /// <summary>The process-wide lock, for 16-byte compare-exchange which has no host interlocked form in .NET.</summary>
    public static Lock WideLock => SplitLock;
}
