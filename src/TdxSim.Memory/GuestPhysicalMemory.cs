using TdxSim.Abi;

namespace TdxSim.Memory;

/// <summary>
/// Guest-physical memory of one TD: GPA width 48, shared bit 47 (contract section 3; reference 4.1).
/// <para>
/// Private memory is <c>[0, PrivateSize)</c>, backed by one lazily committed host region, with a state byte per
/// 4 KiB page (<see cref="PageState"/>). A page converted to shared gets its backing in a second lazily committed
/// region that mirrors the private one, so the shared alias <c>g | SharedBit</c> of a converted page is as cheap
/// to reach as a private page. A shared-alias GPA whose page was never converted has nothing behind it: that is
/// MMIO, and a guest access to it becomes an EPT-violation #VE. Untouched memory costs nothing.
/// </para>
/// <para>
/// Self-modifying code: the state byte of a page from which an interpreter has decoded instructions carries
/// <see cref="CodeFlag"/>, and every page has a generation counter. A write into a flagged page clears the flag and
/// bumps the generation, which every decoded block checks on entry, so cached code goes stale on every vCPU.
/// </para>
/// <para>
/// Spin watch (the deterministic mode's fast-forward of spin-wait loops): <see cref="Watch"/> flags a page with
/// <see cref="WatchFlag"/>; the first write that changes it (a host write, a state change, or an interpreter store
/// that leaves the page different at the end of its slice) clears the flag and raises <see cref="WatchedPageWritten"/>.
/// </para>
/// <para>
/// Thread safety: any number of vCPUs may access memory at once. Accept and conversions take a lock; a vCPU
/// racing with a conversion of the page it touches sees either the old or the new state, as on hardware where
/// the TD must not touch a page it is converting. Dispose only after every vCPU using this memory has stopped.
/// </para>
/// </summary>
public sealed unsafe class GuestPhysicalMemory : IDisposable
{
    /// <summary>Page-state bit: instructions were decoded from this page (see the class remarks).</summary>
    internal const byte CodeFlag = 0x80;

    /// <summary>
    /// Page-state bit: a spinning vCPU's loop reads this page, and a write to it must wake that vCPU (see
    /// <see cref="Watch"/>). Like <see cref="CodeFlag"/> it sends the interpreter's writes to the slow path.
    /// </summary>
    internal const byte WatchFlag = 0x40;

    /// <summary>Mask of the <see cref="PageState"/> part of a state byte.</summary>
    internal const byte StateMask = 0x3F;

    private const ulong PageMask = GuestPhysical.PageSize - 1;
    private const ulong PagesPerLargePage = GuestPhysical.LargePageSize / GuestPhysical.PageSize;

    private readonly NativeRegion _private;
    private readonly NativeRegion _shared;
    private readonly NativeRegion _states;
    private readonly NativeRegion _generations;
    private readonly Lock _lock = new();
    private bool _disposed;

    /// <summary>Creates private memory of <paramref name="privateBytes"/> bytes at GPA 0.</summary>
    /// <param name="privateBytes">Size of private memory: a non-zero multiple of 4 KiB below the shared bit.</param>
    /// <param name="acceptAll">True: every page starts accepted (zeroed). False: every page starts pending and must be
    /// accepted with <see cref="Accept"/> (TDG.MEM.PAGE.ACCEPT) before the guest may touch it.</param>
    /// <exception cref="ArgumentException">The size is zero, not a multiple of 4 KiB, or reaches the shared bit.</exception>
    public GuestPhysicalMemory(ulong privateBytes, bool acceptAll = true)
    {
        if (privateBytes == 0 || (privateBytes & PageMask) != 0)
        {
            throw new ArgumentException($"private memory size 0x{privateBytes:X} must be a non-zero multiple of 4 KiB", nameof(privateBytes));
        }

        if (privateBytes > GuestPhysical.SharedBit)
        {
            throw new ArgumentException($"private memory size 0x{privateBytes:X} reaches the shared bit (GPA bit {GuestPhysical.Gpaw - 1})", nameof(privateBytes));
        }

        PrivateSize = privateBytes;
        PageCount = privateBytes >> GuestPhysical.PageShift;
        _private = new NativeRegion(privateBytes);
        _shared = new NativeRegion(privateBytes);
        _states = new NativeRegion(PageCount);
        _generations = new NativeRegion(PageCount * sizeof(uint));
        if (!acceptAll)
        {
            // Accepted is state code 0, so an all-accepted memory leaves even the state array untouched.
            for (ulong done = 0; done < PageCount; done += int.MaxValue)
            {
                new Span<byte>(_states.Base + done, (int)Math.Min(PageCount - done, int.MaxValue)).Fill(PageCode.Pending);
            }
        }
    }

    /// <summary>Size of private memory in bytes.</summary>
    public ulong PrivateSize { get; }

    /// <summary>Number of 4 KiB private pages.</summary>
    public ulong PageCount { get; }

    /// <summary>Host address of private GPA 0 (hot path of the interpreter).</summary>
    internal byte* PrivateBase => _private.Base;

    /// <summary>Host address of the shared page behind shared-alias GPA <c>0 | SharedBit</c>.</summary>
    internal byte* SharedBase => _shared.Base;

    /// <summary>One state byte per private page: a <see cref="PageCode"/>, plus <see cref="CodeFlag"/>.</summary>
    internal byte* States => _states.Base;

    /// <summary>One code generation counter per private page.</summary>
    internal uint* CodeGenerations => (uint*)_generations.Base;

    /// <summary>The state of the private page holding <paramref name="gpa"/>; <see cref="PageState.None"/> outside private memory.</summary>
    public PageState GetPageState(ulong gpa)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (gpa >= PrivateSize)
        {
            return PageState.None;
        }

        return PageCode.ToState(States[gpa >> GuestPhysical.PageShift]);
    }

    /// <summary>
    /// TDG.MEM.PAGE.ACCEPT semantics (reference 4.3): a pending page becomes accepted and reads zero.
    /// </summary>
    /// <param name="gpa">Private GPA, aligned to the page size of <paramref name="level"/>.</param>
    /// <param name="level">0 = 4 KiB, 1 = 2 MiB.</param>
    /// <returns><see cref="AcceptResult.Success"/>; <see cref="AcceptResult.AlreadyAccepted"/> if every page already was;
    /// <see cref="AcceptResult.SizeMismatch"/> for a 2 MiB accept over pages in mixed states;
    /// <see cref="AcceptResult.InvalidOperand"/> for a bad level, a misaligned or shared GPA, a range outside private
    /// memory, or a page converted to shared.</returns>
    public AcceptResult Accept(ulong gpa, int level)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (level is not (0 or 1))
        {
            return AcceptResult.InvalidOperand;
        }

        ulong size = level == 0 ? GuestPhysical.PageSize : GuestPhysical.LargePageSize;
        if ((gpa & ~GuestPhysical.AddressMask) != 0 || GuestPhysical.IsShared(gpa) || (gpa & (size - 1)) != 0
            || gpa >= PrivateSize || PrivateSize - gpa < size)
        {
            return AcceptResult.InvalidOperand;
        }

        ulong first = gpa >> GuestPhysical.PageShift;
        ulong count = size >> GuestPhysical.PageShift;
        lock (_lock)
        {
            ulong pending = 0;
            ulong accepted = 0;
            for (ulong p = first; p < first + count; p++)
            {
                switch (PageCode.ToState(States[p]))
                {
                    case PageState.Pending:
                        pending++;
                        break;
                    case PageState.Accepted:
                        accepted++;
                        break;
                    default:
                        // Not mapped private: on hardware a TD exit to the VMM; here an operand error.
                        return AcceptResult.InvalidOperand;
                }
            }

            if (accepted == count)
            {
                return AcceptResult.AlreadyAccepted;
            }

            if (pending != count)
            {
                return level == 0 ? AcceptResult.AlreadyAccepted : AcceptResult.SizeMismatch;
            }

            _private.Zero(gpa, size);
            SetStates(first, count, PageState.Accepted);
            return AcceptResult.Success;
        }
    }

    /// <summary>
    /// Converts <c>[gpa, gpa + size)</c> from private to shared (MapGPA with the shared bit): private contents are lost,
    /// and zeroed shared pages appear behind <c>gpa | SharedBit</c>. Pages already shared are left as they are.
    /// </summary>
    public ConversionResult ConvertToShared(ulong gpa, ulong size) => Convert(gpa, size, toShared: true);

    /// <summary>
    /// Converts <c>[gpa, gpa + size)</c> from shared to private (MapGPA without the shared bit): the shared backing is
    /// dropped and the private pages become <see cref="PageState.Pending"/>; they read zero once accepted again.
    /// Pages already private (pending or accepted) are left as they are.
    /// </summary>
    public ConversionResult ConvertToPrivate(ulong gpa, ulong size) => Convert(gpa, size, toShared: false);

    /// <summary>True when a shared page is behind the shared-alias GPA (the shared bit may be set or clear).</summary>
    public bool IsSharedBacked(ulong sharedGpa)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        ulong g = GuestPhysical.StripShared(sharedGpa);
        return sharedGpa <= GuestPhysical.AddressMask && g < PrivateSize
               && (States[g >> GuestPhysical.PageShift] & StateMask) == PageCode.Shared;
    }

    /// <summary>Trusted read (loader, TDX module) of accepted private memory; false if any byte is not accepted private memory.</summary>
    public bool TryReadPrivate(ulong gpa, Span<byte> destination)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (!AllPagesIn(gpa, (ulong)destination.Length, PageState.Accepted))
        {
            return false;
        }

        new ReadOnlySpan<byte>(PrivateBase + gpa, destination.Length).CopyTo(destination);
        return true;
    }

    /// <summary>Trusted write of accepted private memory; false (nothing written) if any byte is not accepted private memory.
    /// Decoded code in the written pages is invalidated on every vCPU.</summary>
    public bool TryWritePrivate(ulong gpa, ReadOnlySpan<byte> source)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (!AllPagesIn(gpa, (ulong)source.Length, PageState.Accepted))
        {
            return false;
        }

        source.CopyTo(new Span<byte>(PrivateBase + gpa, source.Length));
        if (source.Length > 0)
        {
            ulong last = (gpa + (ulong)source.Length - 1) >> GuestPhysical.PageShift;
            for (ulong p = gpa >> GuestPhysical.PageShift; p <= last; p++)
            {
                InvalidateCode(p);
                FireWatch(p);
            }
        }

        return true;
    }

    /// <summary>Host (VMM) read of shared pages; the GPA may carry the shared bit or not. False if any page is not shared-backed.</summary>
    public bool TryReadShared(ulong gpa, Span<byte> destination)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        ulong g = GuestPhysical.StripShared(gpa);
        if (gpa > GuestPhysical.AddressMask || !AllPagesIn(g, (ulong)destination.Length, PageState.ConvertedToShared))
        {
            return false;
        }

        new ReadOnlySpan<byte>(SharedBase + g, destination.Length).CopyTo(destination);
        return true;
    }

    /// <summary>Host (VMM) write of shared pages; the GPA may carry the shared bit or not. False if any page is not shared-backed.</summary>
    public bool TryWriteShared(ulong gpa, ReadOnlySpan<byte> source)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        ulong g = GuestPhysical.StripShared(gpa);
        if (gpa > GuestPhysical.AddressMask || !AllPagesIn(g, (ulong)source.Length, PageState.ConvertedToShared))
        {
            return false;
        }

        source.CopyTo(new Span<byte>(SharedBase + g, source.Length));
        if (source.Length > 0)
        {
            ulong last = (g + (ulong)source.Length - 1) >> GuestPhysical.PageShift;
            for (ulong p = g >> GuestPhysical.PageShift; p <= last; p++)
            {
                FireWatch(p);
            }
        }

        return true;
    }

    /// <summary>Releases the host memory. No vCPU may use this memory afterwards.</summary>
    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        _private.Dispose();
        _shared.Dispose();
        _states.Dispose();
        _generations.Dispose();
    }

    /// <summary>
    /// Raised, on the writer's thread, when a watched page (<see cref="Watch"/>) changed: its page number. The flag is
    /// already cleared; a watcher that still wants the page watches it again.
    /// </summary>
    public event Action<ulong>? WatchedPageWritten;

    /// <summary>
    /// Watches the private page (or the shared page behind the alias) numbered <paramref name="page"/>: its next change
    /// raises <see cref="WatchedPageWritten"/>. False for a page outside memory.
    /// </summary>
    public bool Watch(ulong page)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (page >= PageCount)
        {
            return false;
        }

        ref byte state = ref States[page];
        while (true)
        {
            byte old = Volatile.Read(ref state);
            if ((old & WatchFlag) != 0 || Interlocked.CompareExchange(ref state, (byte)(old | WatchFlag), old) == old)
            {
                return true;
            }
        }
    }

    /// <summary>Whether <paramref name="page"/> is watched now.</summary>
    public bool IsWatched(ulong page) => page < PageCount && (Volatile.Read(ref States[page]) & WatchFlag) != 0;

    /// <summary>Clears the watch of <paramref name="page"/>, if it had one, and raises <see cref="WatchedPageWritten"/>.</summary>
    internal void FireWatch(ulong page)
    {
        if (TryClearFlag(page, WatchFlag))
        {
            WatchedPageWritten?.Invoke(page);
        }
    }

    /// <summary>Fires every watched page (an interpreter slice changed more pages than it could compare).</summary>
    internal void FireAllWatches()
    {
        for (ulong p = 0; p < PageCount; p++)
        {
            if ((States[p] & WatchFlag) != 0)
            {
                FireWatch(p);
            }
        }
    }

    /// <summary>Marks a private page as holding decoded code and returns its code generation (read after the flag is set).</summary>
    /// <returns>False if the page is not accepted private memory.</returns>
    internal bool TryMarkCode(ulong page, out uint generation)
    {
        generation = 0;
        if (page >= PageCount)
        {
            return false;
        }

        ref byte state = ref States[page];
        while (true)
        {
            byte old = Volatile.Read(ref state);
            if ((old & StateMask) != PageCode.Accepted)
            {
                return false;
            }

            if ((old & CodeFlag) != 0 || Interlocked.CompareExchange(ref state, (byte)(old | CodeFlag), old) == old)
            {
                generation = Volatile.Read(ref CodeGenerations[page]);
                return true;
            }
        }
    }

    /// <summary>Drops the code flag of a page and bumps its generation, so blocks decoded from it go stale everywhere.</summary>
    internal void InvalidateCode(ulong page)
    {
        if (TryClearFlag(page, CodeFlag))
        {
            Interlocked.Increment(ref CodeGenerations[page]);
        }
    }

    /// <summary>Clears <paramref name="flag"/> in the state byte of <paramref name="page"/>; true if this call cleared it.</summary>
    private bool TryClearFlag(ulong page, byte flag)
    {
        ref byte state = ref States[page];
        while (true)
        {
            byte old = Volatile.Read(ref state);
            if ((old & flag) == 0)
            {
                return false;
            }

            if (Interlocked.CompareExchange(ref state, (byte)(old & ~flag), old) == old)
            {
                return true;
            }
        }
    }

    private ConversionResult Convert(ulong gpa, ulong size, bool toShared)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if ((gpa & PageMask) != 0 || (size & PageMask) != 0)
        {
            return ConversionResult.AlignError;
        }

        if (size == 0 || GuestPhysical.IsShared(gpa) || gpa > GuestPhysical.AddressMask || gpa >= PrivateSize || PrivateSize - gpa < size)
        {
            return ConversionResult.InvalidOperand;
        }

        ulong first = gpa >> GuestPhysical.PageShift;
        ulong count = size >> GuestPhysical.PageShift;
        lock (_lock)
        {
            for (ulong p = first; p < first + count; p++)
            {
                var state = PageCode.ToState(States[p]);
                bool isShared = state == PageState.ConvertedToShared;
                if (isShared == toShared)
                {
                    continue;
                }

                ulong offset = p << GuestPhysical.PageShift;
                if (toShared)
                {
                    // Private contents are lost (reference 4.2); the new shared page starts zeroed.
                    _private.Zero(offset, GuestPhysical.PageSize);
                    _shared.Zero(offset, GuestPhysical.PageSize);
                    SetStates(p, 1, PageState.ConvertedToShared);
                }
                else
                {
                    _shared.Zero(offset, GuestPhysical.PageSize);
                    SetStates(p, 1, PageState.Pending);
                }
            }
        }

        return ConversionResult.Success;
    }

    /// <summary>Sets page states, dropping code flags and bumping generations so cached code from them goes stale.</summary>
    private void SetStates(ulong first, ulong count, PageState state)
    {
        for (ulong p = first; p < first + count; p++)
        {
            byte old = Volatile.Read(ref States[p]);
            Volatile.Write(ref States[p], PageCode.From(state));
            if ((old & CodeFlag) != 0)
            {
                Interlocked.Increment(ref CodeGenerations[p]);
            }

            if ((old & WatchFlag) != 0)
            {
                WatchedPageWritten?.Invoke(p);
            }
        }
    }

    private bool AllPagesIn(ulong gpa, ulong length, PageState wanted)
    {
        if (gpa >= PrivateSize || PrivateSize - gpa < length)
        {
            return length == 0 && gpa <= PrivateSize;
        }

        if (length == 0)
        {
            return true;
        }

        ulong last = (gpa + length - 1) >> GuestPhysical.PageShift;
        for (ulong p = gpa >> GuestPhysical.PageShift; p <= last; p++)
        {
            if ((States[p] & StateMask) != PageCode.From(wanted))
            {
                return false;
            }
        }

        return true;
    }
}
