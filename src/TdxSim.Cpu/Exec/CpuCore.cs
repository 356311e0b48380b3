using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using TdxSim.Abi;

namespace TdxSim.Cpu.Exec;

/// <summary>What a handler left for the run loop to report (see <see cref="CpuCore.Exit"/>).</summary>
internal enum CoreExit : byte
{
    None,
    Tdcall,
    Ve,
    EptFatal,
    Exception,
}

/// <summary>Why a fault was raised, so the run loop can word <see cref="CpuExit.Detail"/> without allocating in handlers.</summary>
internal enum FaultDetail : byte
{
    None,
    Unsupported,
    Ud2,
    DivideByZero,
    DivideOverflow,
    BeyondGpaw,
    PrivateOutsideMemory,
    PrivateConvertedToShared,
    FetchFromShared,
    NotCodeSegment64,
    BadSegmentSelector,
    PageFault,
    NonCanonical,
    TripleFault,
    StraddlingWrite,
    BadGate,
    BadTss,
}

/// <summary>One TLB entry: a 4 KiB linear page and the guest-physical page it maps to (as an addend). A tag holds the
/// linear page address when the access kind is allowed through this entry, else <see cref="Paging.Invalid"/>.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct TlbEntry
{
    public ulong ReadTag;
    public ulong WriteTag;
    public ulong FetchTag;
    public ulong Addend;
}

/// <summary>
/// The per-vCPU interpreter state, in a pinned array so handlers reach it through one pointer.
/// <see cref="Zero"/> sits just before the registers: a memory operand with no base or index names it and reads 0,
/// which keeps effective-address computation free of branches.
/// </summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct CpuCore
{
    public ulong Zero;
    public CpuState State;

    // Guest memory (copied from GuestPhysicalMemory; the pointers stay valid for its lifetime).
    public byte* Mem;
    public byte* Shared;
    public byte* States;
    public uint* Generations;
    public ulong PrivateSize;
    public ulong PageCount;

    public ulong TscPerInstruction;
    public ulong TscOffset;
    public uint RepChunk;

    /// <summary>PAUSEs between pause-loop exits (0: PAUSE never exits).</summary>
    public uint PauseExitInterval;

    /// <summary>PAUSEs since the last pause-loop exit.</summary>
    public uint PausesSinceExit;

    /// <summary>Pause-loop exits taken so far.</summary>
    public ulong PauseExits;

    /// <summary>PAUSEs retired so far (exiting or not).</summary>
    public ulong PausesRetired;

    // The spin watch (SpinWatch.cs): a probe slice records the pages it touches; any slice that writes a watched page
    // (or, probing, any page) snapshots it first, and the end of the slice compares.
    public byte Probe;
    public byte ProbeOverflow;
    public byte SliceChangedMemory;
    public byte WatchOverflow;
    public int ProbeCount;
    public fixed ulong ProbePages[SpinWatch.MaxPages];
    public int SnapCount;
    public fixed ulong SnapPages[SpinWatch.MaxPages];
    public byte* SnapBuffer;

    // Paging (CpuOptions.GuestSystem): the TLB and its flush count (blocks remember the count they were validated at).
    public byte Paging;
    public byte GuestIdt;
    public byte InDelivery;
    public TlbEntry* Tlb;
    public ulong TlbEpoch;

    /// <summary>CR0, CR3, CR4 and EFER as the TLB was filled under them (a change flushes it).</summary>
    public ulong TlbCr0, TlbCr3, TlbCr4, TlbEfer;
    public byte GuestSystem;

    /// <summary>The virtual-APIC page's interrupt state (APICv virtual-interrupt delivery, SDM Vol. 3C 30.2): VIRR and
    /// VISR as 256-bit vectors, VTPR. The registers the VMM emulates are not here.</summary>
    public fixed ulong Virr[4];
    public fixed ulong Visr[4];
    public uint Vtpr;

    /// <summary>Nonzero while VIRR may hold a deliverable vector: the run loop looks at it at every block boundary.</summary>
    public byte IntrPending;

    /// <summary>STI blocking: set by an STI that set IF; the next block-boundary check skips delivery once.</summary>
    public byte IntrShadow;

    /// <summary>Interrupts delivered from VIRR (external interrupts, not exceptions).</summary>
    public ulong ExternalInterrupts;

    /// <summary>XMM0-XMM15, two quadwords each.</summary>
    public fixed ulong Xmm[32];

    /// <summary>RDRAND/RDSEED generator state (xorshift, seeded per vCPU: runs stay reproducible).</summary>
    public ulong RandomState;

    /// <summary>Where a read that straddles two guest-physical pages that are not adjacent is assembled.</summary>
    public fixed byte Bounce[64];

    // Exit information written by the handler that stops.
    public CoreExit Exit;
    public FaultDetail Detail;
    public byte Vector;
    public uint ErrorCode;
    public VeExitReason VeReason;
    public ulong VeQualification;
    public ulong VeGla;
    public ulong VeGpa;

    /// <summary>Byte offset of general-purpose register <paramref name="n"/> from the start of the core.</summary>
    public static byte RegOffset(int n) => (byte)(ZeroOffset + sizeof(ulong) + (n * sizeof(ulong)));

    /// <summary>Byte offset of the high-byte register AH/CH/DH/BH (n = 0..3).</summary>
    public static byte HighByteOffset(int n) => (byte)(RegOffset(n) + 1);

    public const byte ZeroOffset = 0;

    public static readonly byte FsBaseOffset = FieldOffset(static (ref CpuCore c) => ref c.State.FsBase);

    public static readonly byte GsBaseOffset = FieldOffset(static (ref CpuCore c) => ref c.State.GsBase);

    public void SetException(byte vector, uint errorCode, FaultDetail detail)
    {
        Exit = CoreExit.Exception;
        Vector = vector;
        ErrorCode = errorCode;
        Detail = detail;
    }

    private static byte FieldOffset(CoreField field)
    {
        CpuCore probe = default;
        return (byte)Unsafe.ByteOffset(ref Unsafe.As<CpuCore, byte>(ref probe), ref Unsafe.As<ulong, byte>(ref field(ref probe)));
    }

    public void SetVe(VeExitReason reason, ulong qualification, ulong gla = 0, ulong gpa = 0)
    {
        Exit = CoreExit.Ve;
        VeReason = reason;
        VeQualification = qualification;
        VeGla = gla;
        VeGpa = gpa;
    }
}

/// <summary>Selects a field of a core, to measure its offset.</summary>
internal delegate ref ulong CoreField(ref CpuCore core);

/// <summary>What a handler returns to the run loop.</summary>
internal static class Status
{
    /// <summary>Retired; go on with the next op of the block.</summary>
    public const int Continue = 0;

    /// <summary>Not retired, no architectural change: report the exit stored in the core (RIP stays at the instruction).</summary>
    public const int Exit = 1;

    /// <summary>Retired, but leave the block now (the write hit a page holding decoded code).</summary>
    public const int StopAfter = 2;

    /// <summary>Not retired, partly done (a REP instruction yielding): resume at the same RIP with a fresh block.</summary>
    public const int Restart = 3;

    /// <summary>Retired, and return from Run now: a pause-loop exit (the vCPU is spinning; let others run).</summary>
    public const int Yield = 4;
}

/// <summary>
/// One pre-decoded instruction: the handler plus everything it needs, laid out in one 64-byte cache line.
/// Register operands are byte offsets into <see cref="CpuCore"/>; a memory operand is base, index, scale,
/// displacement (RIP-relative already resolved), address-size mask and segment-base offset.
/// </summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct Op
{
    /// <summary>The handler run by the block loop (a flag-skipping variant where flag liveness allows).</summary>
    public delegate*<CpuCore*, Op*, int> Fn;

    /// <summary>The handler with exact flags, used when a block is cut short (instruction limit).</summary>
    public delegate*<CpuCore*, Op*, int> Precise;

    public ulong Imm;
    public long Disp;
    public ulong Rip;
    public ulong AddrMask;
    public byte Dst;
    public byte Src;
    public byte Base;
    public byte Index;
    public byte Scale;
    public byte Len;
    public byte Seg;
    public byte Aux;
    public int Aux2;
    public int Aux3;

    public readonly ulong NextRip => Rip + Len;
}

/// <summary>Operand access shared by the handlers.</summary>
internal static unsafe class Operands
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static T Reg<T>(CpuCore* c, byte offset)
        where T : unmanaged => Unsafe.ReadUnaligned<T>((byte*)c + offset);

    /// <summary>Writes a register with hardware partial-register rules: 32-bit writes zero-extend, 8/16-bit writes merge.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void SetReg<T>(CpuCore* c, byte offset, T value)
        where T : unmanaged
    {
        if (typeof(T) == typeof(uint))
        {
            *(ulong*)((byte*)c + offset) = Unsafe.As<T, uint>(ref value);
        }
        else
        {
            Unsafe.WriteUnaligned((byte*)c + offset, value);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ref ulong Gpr(CpuCore* c, int n) => ref *(ulong*)((byte*)c + CpuCore.RegOffset(n));

    /// <summary>Offset part of the address (what LEA yields): base + index * scale + displacement, masked to the address size.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong Offset(CpuCore* c, Op* op)
    {
        byte* b = (byte*)c;
        return (*(ulong*)(b + op->Base) + (*(ulong*)(b + op->Index) << op->Scale) + (ulong)op->Disp) & op->AddrMask;
    }

    /// <summary>Linear address of the memory operand (segment base of an FS/GS override added; otherwise flat).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong Ea(CpuCore* c, Op* op) => Offset(c, op) + *(ulong*)((byte*)c + op->Seg);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static T Imm<T>(Op* op)
        where T : unmanaged, System.Numerics.IBinaryInteger<T> => T.CreateTruncating(op->Imm);
}
