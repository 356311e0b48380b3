using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Iced.Intel;
using TdxSim.Abi;
using TdxSim.Cpu.Decode;
using TdxSim.Cpu.Exec;
using TdxSim.Memory;

namespace TdxSim.Cpu;

/// <summary>
/// One x86-64 vCPU: long mode, CPL 0, flat segments, no paging (contract section 3). <see cref="Run"/> executes guest
/// code until something needs the outside world and returns it as a <see cref="CpuExit"/> value; the CPU itself
/// talks to nobody.
/// <para>
/// Guest code is decoded once per basic block with Iced and cached as pre-decoded ops; blocks are revalidated on
/// entry against per-page code generations, so writes to code (self-modifying or from another vCPU, or from the
/// host through <see cref="GuestPhysicalMemory.TryWritePrivate"/>) take effect. One instance per thread; several
/// instances may run concurrently on different threads over the same <see cref="GuestPhysicalMemory"/>.
/// </para>
/// </summary>
public sealed unsafe class Cpu
{
    private const int L1Size = 1 << 12;
    private const int MaxCachedBlocks = 1 << 16;

    private readonly GuestPhysicalMemory _memory;
    private readonly CpuCore[] _coreStorage;
    private readonly CpuCore* _core;
    private readonly BlockBuilder _builder;
    private readonly Dictionary<ulong, Block> _blocks = [];
    private readonly Block?[] _l1 = new Block?[L1Size];
    private readonly TlbEntry[] _tlb = GC.AllocateArray<TlbEntry>(Paging.TlbEntries, pinned: true);

    /// <summary>Creates vCPU <paramref name="vcpuIndex"/> over <paramref name="memory"/>, at reset state (RFLAGS = 2, every
    /// register and RIP 0).</summary>
    public Cpu(GuestPhysicalMemory memory, int vcpuIndex = 0, CpuOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(memory);
        ArgumentOutOfRangeException.ThrowIfNegative(vcpuIndex);
        options ??= new CpuOptions();
        if (options.MaxBlockInstructions is < 1 or > 256)
        {
            throw new ArgumentOutOfRangeException(nameof(options), $"MaxBlockInstructions {options.MaxBlockInstructions} is outside 1..256");
        }

        if (options.PauseExitInterval < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(options), $"PauseExitInterval {options.PauseExitInterval} must be zero or positive");
        }

        if (options.RepChunk < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(options), $"RepChunk {options.RepChunk} must be positive");
        }

        _memory = memory;
        VcpuIndex = vcpuIndex;
        Options = options;
        _coreStorage = GC.AllocateArray<CpuCore>(1, pinned: true);
        _core = (CpuCore*)Unsafe.AsPointer(ref _coreStorage[0]);
        _core->Mem = memory.PrivateBase;
        _core->Shared = memory.SharedBase;
        _core->States = memory.States;
        _core->Generations = memory.CodeGenerations;
        _core->PrivateSize = memory.PrivateSize;
        _core->PageCount = memory.PageCount;
        _core->TscPerInstruction = options.TscPerInstruction;
        _core->TscOffset = options.TscOffset;
        _core->RepChunk = (uint)options.RepChunk;
        _core->PauseExitInterval = (uint)options.PauseExitInterval;
        _core->State.Rflags = CpuState.ResetRflags;
        _core->Tlb = (TlbEntry*)Unsafe.AsPointer(ref _tlb[0]);
        _core->GuestIdt = options.GuestSystem ? (byte)1 : (byte)0;
        _core->GuestSystem = _core->GuestIdt;
        _core->TlbCr0 = ulong.MaxValue;
        _core->State.Pat = 0x0007_0406_0007_0406;
        _core->State.SetPowerOnFpuState();
        Paging.Flush(_core);
        _builder = new BlockBuilder(memory, options.MaxBlockInstructions);
    }

    /// <summary>This vCPU's index.</summary>
    public int VcpuIndex { get; }

    /// <summary>The options this vCPU was created with.</summary>
    public CpuOptions Options { get; }

    /// <summary>The memory this vCPU runs on.</summary>
    public GuestPhysicalMemory Memory => _memory;

    /// <summary>The architectural state, by reference: read and change it between <see cref="Run"/> calls.</summary>
    public ref CpuState State => ref _core->State;

    /// <summary>Pause-loop exits taken so far (a spinning vCPU's yields; deterministic mode charges each a cost).</summary>
    public ulong PauseExits => _core->PauseExits;

    /// <summary>PAUSEs retired so far, exiting or not (deterministic mode charges each its latency).</summary>
    public ulong PausesRetired => _core->PausesRetired;

    /// <summary>Number of cached blocks (for tests and diagnostics).</summary>
    public int CachedBlockCount => _blocks.Count;

    /// <summary>Drops every cached block; the next execution decodes afresh.</summary>
    public void InvalidateDecodeCache()
    {
        foreach (Block b in _blocks.Values)
        {
            b.Live = false;
        }

        _blocks.Clear();
        Array.Clear(_l1);
    }

    /// <summary>
    /// Runs until an exit, or until <paramref name="maxInstructions"/> more instructions retired
    /// (<see cref="CpuExitKind.InstructionLimit"/>). Allocates nothing except when decoding new code or reporting a fault.
    /// </summary>
    public CpuExit Run(ulong maxInstructions)
    {
        _core->SliceChangedMemory = 0;
        CpuExit exit = Execute(maxInstructions);
        if (_core->SnapCount != 0 || _core->WatchOverflow != 0)
        {
            FinishWatchedWrites();
        }

        return exit;
    }

    /// <summary>
    /// Runs as <see cref="Run"/> does, and records the pages (guest-physical page numbers, shared aliases stripped) that
    /// the slice's data accesses touched, at most eight (<see cref="ProbedPages"/>, <see cref="ProbeOverflowed"/>), and
    /// whether it changed memory (<see cref="SliceChangedMemory"/>). Slower: every access takes the slow path. What a
    /// deterministic run uses to learn what a spinning vCPU's loop depends on.
    /// </summary>
    public CpuExit RunProbe(ulong maxInstructions)
    {
        CpuCore* c = _core;
        ulong privateSize = c->PrivateSize;
        c->Probe = 1;
        c->ProbeCount = 0;
        c->ProbeOverflow = 0;
        c->PrivateSize = 0; // every data access misses the fast paths, so the slow path sees it
        try
        {
            return Run(maxInstructions);
        }
        finally
        {
            c->PrivateSize = privateSize;
            c->Probe = 0;
        }
    }

    /// <summary>The pages the last <see cref="RunProbe"/> touched (valid until the next one).</summary>
    public ReadOnlySpan<ulong> ProbedPages => new(_core->ProbePages, _core->ProbeCount);

    /// <summary>Whether the last <see cref="RunProbe"/> touched more pages than it records.</summary>
    public bool ProbeOverflowed => _core->ProbeOverflow != 0;

    /// <summary>
    /// Whether the last <see cref="Run"/> or <see cref="RunProbe"/> left memory different, as far as it compared: always
    /// known for a probe; for a plain run only where it wrote into watched pages.
    /// </summary>
    public bool SliceChangedMemory => _core->SliceChangedMemory != 0;

    /// <summary>Copies what a turn of a spin loop could depend on in the registers (all but the retired-instruction and
    /// delivered-interrupt counters) into <paramref name="snapshot"/>.</summary>
    public void TakeSpinSnapshot(ref SpinSnapshot snapshot)
    {
        snapshot.State = _core->State;
        snapshot.State.InstructionsRetired = 0;
        snapshot.State.InterruptsDelivered = 0;
        new ReadOnlySpan<ulong>(_core->Xmm, 32).CopyTo(snapshot.Xmm);
        snapshot.Random = _core->RandomState;
        snapshot.Valid = true;
    }

    /// <summary>Whether the registers equal <paramref name="snapshot"/> (see <see cref="TakeSpinSnapshot"/>).</summary>
    public bool MatchesSpinSnapshot(ref SpinSnapshot snapshot)
    {
        if (!snapshot.Valid || _core->RandomState != snapshot.Random || _core->IntrPending != 0)
        {
            return false;
        }

        CpuState now = _core->State;
        now.InstructionsRetired = 0;
        now.InterruptsDelivered = 0;
        return MemoryMarshal.AsBytes(new ReadOnlySpan<CpuState>(ref now)).SequenceEqual(MemoryMarshal.AsBytes(new ReadOnlySpan<CpuState>(ref snapshot.State)))
            && new ReadOnlySpan<ulong>(_core->Xmm, 32).SequenceEqual(snapshot.Xmm);
    }

    /// <summary>
    /// Counts <paramref name="slices"/> turns of a spin loop as run without running them: each retires
    /// <paramref name="instructionsPerSlice"/> instructions and <paramref name="pausesPerSlice"/> PAUSEs and ends in a
    /// pause-loop exit. The TSC moves with the instructions. <see cref="CreditedInstructions"/> and its siblings count
    /// what was credited, so a cost model that charges by instructions can leave it out.
    /// </summary>
    public void CreditSpin(ulong slices, ulong instructionsPerSlice, ulong pausesPerSlice)
    {
        ulong instructions = slices * instructionsPerSlice;
        ulong pauses = slices * pausesPerSlice;
        _core->State.InstructionsRetired += instructions;
        _core->PausesRetired += pauses;
        _core->PauseExits += slices;
        CreditedInstructions += instructions;
        CreditedPauses += pauses;
        CreditedPauseExits += slices;
    }

    /// <summary>Instructions counted by <see cref="CreditSpin"/> so far.</summary>
    public ulong CreditedInstructions { get; private set; }

    /// <summary>PAUSEs counted by <see cref="CreditSpin"/> so far.</summary>
    public ulong CreditedPauses { get; private set; }

    /// <summary>Pause-loop exits counted by <see cref="CreditSpin"/> so far.</summary>
    public ulong CreditedPauseExits { get; private set; }

    private void FinishWatchedWrites()
    {
        Span<ulong> fire = stackalloc ulong[SpinWatch.MaxPages];
        bool all = SpinWatch.Finish(_core, fire, out int fired);
        if (all)
        {
            _memory.FireAllWatches();
            return;
        }

        for (int i = 0; i < fired; i++)
        {
            _memory.FireWatch(fire[i]);
        }
    }

    /// <summary>Frees the spin watch's page copies, if a slice ever made them.</summary>
    ~Cpu()
    {
        if (_core != null && _core->SnapBuffer != null)
        {
            NativeMemory.Free(_core->SnapBuffer);
            _core->SnapBuffer = null;
        }
    }

    private CpuExit Execute(ulong maxInstructions)
    {
        CpuCore* c = _core;
        SystemOps.SyncTranslation(c);
        c->State.Rflags = (c->State.Rflags | CpuState.ResetRflags) & ~(Rflags.Rf | (1UL << 3) | (1UL << 5) | (1UL << 15) | ~((1UL << 22) - 1));
        c->Exit = CoreExit.None;
        c->IntrShadow = 0; // STI blocking does not outlast an exit
        ulong remaining = maxInstructions;
        Block? prev = null;
        while (remaining != 0)
        {
            ulong cap = remaining;
            if (c->IntrPending != 0)
            {
                int d = 0;
                if (c->IntrShadow != 0)
                {
                    // STI blocking: one more instruction runs before the interrupt is recognised.
                    c->IntrShadow = 0;
                    cap = 1;
                }
                else
                {
                    // Virtual-interrupt delivery at an instruction boundary (every block boundary is one).
                    d = VirtualApic.TryDeliver(c);
                }

                if (d != 0)
                {
                    prev = null;
                    if (d < 0)
                    {
                        return MakeExit(c, null, null);
                    }
                }
            }

            ulong rip = c->State.Rip;
            Block? b = null;
            if (prev != null)
            {
                if (prev.Link0Rip == rip)
                {
                    b = prev.Link0;
                }
                else if (prev.Link1Rip == rip)
                {
                    b = prev.Link1;
                }

                if (b == null || !b.IsCurrent || (b.Epoch != c->TlbEpoch && !Revalidate(c, b)))
                {
                    b = Lookup(c, rip);
                    if (b == null)
                    {
                        if (DeliverFault(c, rip))
                        {
                            prev = null;
                            continue;
                        }

                        return FetchFault(c, rip);
                    }

                    if (prev.Link0Rip == rip || prev.Link0Rip == ulong.MaxValue)
                    {
                        prev.Link0Rip = rip;
                        prev.Link0 = b;
                    }
                    else
                    {
                        prev.Link1Rip = rip;
                        prev.Link1 = b;
                    }
                }
            }
            else
            {
                b = Lookup(c, rip);
                if (b == null)
                {
                    if (DeliverFault(c, rip))
                    {
                        continue;
                    }

                    return FetchFault(c, rip);
                }
            }

            Op* ops = b.Ops;
            int n = b.Count;
            int i = 0;
            int status = Status.Continue;
            c->State.Rip = b.End;
            if ((ulong)n <= cap)
            {
                for (; i < n; i++)
                {
                    status = ops[i].Fn(c, ops + i);
                    if (status != Status.Continue)
                    {
                        break;
                    }
                }
            }
            else
            {
                // The limit (or the end of STI blocking) falls inside this block: run its first instructions with
                // exact-flag handlers.
                n = (int)cap;
                for (; i < n; i++)
                {
                    status = ops[i].Precise(c, ops + i);
                    if (status != Status.Continue)
                    {
                        break;
                    }
                }

                if (status == Status.Continue)
                {
                    c->State.Rip = ops[n - 1].NextRip;
                }
            }

            if (status == Status.Continue)
            {
                c->State.InstructionsRetired += (ulong)n;
                remaining -= (ulong)n;
                prev = b;
                continue;
            }

            Op* op = ops + i;
            prev = null;
            switch (status)
            {
                case Status.StopAfter:
                    c->State.InstructionsRetired += (ulong)(i + 1);
                    remaining -= (ulong)(i + 1);
                    if (i != b.Count - 1)
                    {
                        c->State.Rip = op->NextRip;
                    }

                    break;
                case Status.Yield:
                    c->State.InstructionsRetired += (ulong)(i + 1);
                    c->State.Rip = op->NextRip;
                    return new CpuExit(CpuExitKind.Pause, c->State.Rip, default, 0, 0, null);
                case Status.Restart:
                    c->State.InstructionsRetired += (ulong)i;
                    remaining -= (ulong)i;
                    c->State.Rip = op->Rip;
                    break;
                default:
                    c->State.InstructionsRetired += (ulong)i;
                    remaining -= (ulong)i;
                    c->State.Rip = op->Rip;
                    if (DeliverFault(c, op->Rip))
                    {
                        break;
                    }

                    return MakeExit(c, op, b.Details?[i]);
            }
        }

        return new CpuExit(CpuExitKind.InstructionLimit, c->State.Rip, default, 0, 0, null);
    }

    private Block? Lookup(CpuCore* c, ulong rip)
    {
        int slot = (int)((rip ^ (rip >> 12)) & (L1Size - 1));
        Block? b = _l1[slot];
        if (b != null && b.Start == rip && b.IsCurrent && (b.Epoch == c->TlbEpoch || Revalidate(c, b)))
        {
            return b;
        }

        if (_blocks.TryGetValue(rip, out b))
        {
            if (b.IsCurrent && (b.Epoch == c->TlbEpoch || Revalidate(c, b)))
            {
                _l1[slot] = b;
                return b;
            }

            b.Live = false;
            _blocks.Remove(rip);
        }

        if (_blocks.Count >= MaxCachedBlocks)
        {
            InvalidateDecodeCache();
        }

        b = _builder.Build(c, rip);
        if (b == null)
        {
            return null;
        }

        _blocks[rip] = b;
        _l1[slot] = b;
        return b;
    }

    /// <summary>After a TLB flush: whether the block's linear pages still map to the guest-physical pages it was
    /// decoded from (then it is stamped with the current epoch).</summary>
    private static bool Revalidate(CpuCore* c, Block b)
    {
        CoreExit saved = c->Exit;
        bool ok = Maps(c, b.Start, b.PhysPage0)
            && (b.LinearPage1 == ulong.MaxValue || Maps(c, b.LinearPage1 << GuestPhysical.PageShift, b.PhysPage1));
        c->Exit = saved;
        if (ok)
        {
            b.Epoch = c->TlbEpoch;
        }

        return ok;
    }

    private static bool Maps(CpuCore* c, ulong la, ulong physPage)
    {
        if (c->Paging == 0)
        {
            return la >> GuestPhysical.PageShift == physPage;
        }

        return Paging.Translate(c, la, Access.Fetch, out ulong gpa) && gpa >> GuestPhysical.PageShift == physPage;
    }

    /// <summary>
    /// With the guest's IDT in use: delivers the exception stored in the core (the faulting instruction at
    /// <paramref name="rip"/>) and returns true; false when it must end the run instead (no IDT, an unimplemented
    /// instruction, or a triple fault, which is then stored as the exit).
    /// </summary>
    private static bool DeliverFault(CpuCore* c, ulong rip)
    {
        if (c->GuestIdt == 0 || c->Exit != CoreExit.Exception || c->State.IdtrLimit == 0
            || c->Detail is FaultDetail.Unsupported or FaultDetail.StraddlingWrite or FaultDetail.TripleFault)
        {
            return false;
        }

        c->Exit = CoreExit.None;
        c->State.Rip = rip;
        return Interrupts.Deliver(c, c->Vector, c->ErrorCode);
    }

    /// <summary>The size of the FXSAVE image (the legacy region of XSAVE).</summary>
    public const int FxsaveSize = 512;

    /// <summary>
    /// Writes the x87/SSE state as an FXSAVE image (FCW at 0, FSW at 2, MXCSR at 24, XMM0-15 at 160) into the first
    /// <see cref="FxsaveSize"/> bytes of <paramref name="image"/>, the rest zero: what KVM_GET_FPU returns.
    /// </summary>
    public void SaveFxsave(Span<byte> image)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(image.Length, FxsaveSize, nameof(image));
        CpuCore* c = _core;
        image[..FxsaveSize].Clear();
        System.Buffers.Binary.BinaryPrimitives.WriteUInt16LittleEndian(image, c->State.Fcw);
        System.Buffers.Binary.BinaryPrimitives.WriteUInt16LittleEndian(image[2..], c->State.Fsw);
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(image[24..], c->State.Mxcsr);
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(image[28..], 0xFFFF); // MXCSR_MASK
        for (int i = 0; i < 32; i++)
        {
            System.Buffers.Binary.BinaryPrimitives.WriteUInt64LittleEndian(image[(160 + (8 * i))..], c->Xmm[i]);
        }
    }

    /// <summary>Loads the x87/SSE state from an FXSAVE image (the fields <see cref="SaveFxsave"/> writes): KVM_SET_FPU.</summary>
    public void RestoreFxsave(ReadOnlySpan<byte> image)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(image.Length, FxsaveSize, nameof(image));
        CpuCore* c = _core;
        c->State.Fcw = System.Buffers.Binary.BinaryPrimitives.ReadUInt16LittleEndian(image);
        c->State.Fsw = System.Buffers.Binary.BinaryPrimitives.ReadUInt16LittleEndian(image[2..]);
        c->State.Mxcsr = System.Buffers.Binary.BinaryPrimitives.ReadUInt32LittleEndian(image[24..]);
        for (int i = 0; i < 32; i++)
        {
            c->Xmm[i] = System.Buffers.Binary.BinaryPrimitives.ReadUInt64LittleEndian(image[(160 + (8 * i))..]);
        }
    }

    /// <summary>The TSC at zero retired instructions (RDTSC = offset + instructions x <see cref="TscPerInstruction"/>).</summary>
    public ulong TscOffset
    {
        get => _core->TscOffset;
        set => _core->TscOffset = value;
    }

    /// <summary>TSC ticks per retired instruction (at least 1).</summary>
    public ulong TscPerInstruction
    {
        get => _core->TscPerInstruction;
        set => _core->TscPerInstruction = Math.Max(1, value);
    }

    /// <summary>Whether exceptions and #VE go through the guest's own IDT (<see cref="CpuOptions.GuestSystem"/> and
    /// an IDT loaded).</summary>
    public bool HasGuestIdt => _core->GuestIdt != 0 && _core->State.IdtrLimit != 0;

    /// <summary>
    /// Delivers exception <paramref name="vector"/> (with <paramref name="errorCode"/> when the vector takes one) through
    /// the guest's IDT at the current RIP, as the TDX module injects #VE (20) or #GP (13). Null when delivered; else
    /// the triple-fault exit that ends the run.
    /// </summary>
    public CpuExit? Inject(byte vector, uint errorCode = 0)
    {
        CpuCore* c = _core;
        SystemOps.SyncTranslation(c);
        c->Exit = CoreExit.None;
        if (Interrupts.Deliver(c, vector, errorCode))
        {
            return null;
        }

        return MakeExit(c, null, null);
    }

    /// <summary>
    /// A posted interrupt reached this vCPU (the notification processed: PIR folded into VIRR). It is delivered
    /// through the guest's IDT at the next instruction boundary where RFLAGS.IF = 1 and its priority class is above
    /// PPR's. Vectors 0-15 are illegal and ignored. Call between <see cref="Run"/> calls, on the vCPU's thread.
    /// </summary>
    public void PostInterrupt(byte vector)
    {
        if (vector >= 16)
        {
            VirtualApic.Request(_core, vector);
        }
    }

    /// <summary>Whether VIRR holds a vector (requested, not yet delivered).</summary>
    public bool HasRequestedInterrupt
    {
        get
        {
            CpuCore* c = _core;
            return (c->Virr[0] | c->Virr[1] | c->Virr[2] | c->Virr[3]) != 0;
        }
    }

    /// <summary>The highest requested vector, or -1.</summary>
    public int HighestRequestedVector => VirtualApic.Highest(_core->Virr);

    /// <summary>The highest in-service vector, or -1.</summary>
    public int HighestInServiceVector => VirtualApic.Highest(_core->Visr);

    /// <summary>The processor priority (PPR) the virtual APIC computes from VTPR and VISR.</summary>
    public uint ProcessorPriority => VirtualApic.ComputePpr(_core);

    /// <summary>External interrupts delivered through the guest's IDT so far.</summary>
    public ulong ExternalInterrupts => _core->ExternalInterrupts;

    /// <summary>The guest's TSC now, what the next RDTSC reads: <c>TscOffset + InstructionsRetired * TscPerInstruction</c>.</summary>
    public ulong Tsc => _core->TscOffset + (_core->State.InstructionsRetired * _core->TscPerInstruction);

    /// <summary>Moves the TSC forward to <paramref name="tsc"/> (never back): time passes while a vCPU is halted.</summary>
    public void AdvanceTscTo(ulong tsc)
    {
        ulong now = Tsc;
        if (tsc > now)
        {
            _core->TscOffset += tsc - now;
        }
    }

    /// <summary>Reads guest memory at a linear address (through the guest's page tables when paging is on) for
    /// diagnostics, without setting A/D bits; false when some byte is unmapped or not private memory.</summary>
    public bool TryReadLinear(ulong la, Span<byte> destination)
    {
        for (int k = 0; k < destination.Length; k++)
        {
            if (!Paging.TryPeek(_core, la + (ulong)k, out ulong gpa) || !_memory.TryReadPrivate(gpa, destination.Slice(k, 1)))
            {
                return false;
            }
        }

        return true;
    }

    private CpuExit FetchFault(CpuCore* c, ulong rip)
    {
        c->State.Rip = rip;
        return MakeExit(c, null, null);
    }

    /// <summary>Builds the exit value from what the handler stored in the core (allocates only for faults).</summary>
    private CpuExit MakeExit(CpuCore* c, Op* op, string? decodeDetail)
    {
        ulong rip = c->State.Rip;
        uint length = op == null ? 0u : op->Len;
        CoreExit kind = c->Exit;
        c->Exit = CoreExit.None;
        switch (kind)
        {
            case CoreExit.Tdcall:
                return new CpuExit(CpuExitKind.Tdcall, rip, default, 0, 0, null);
            case CoreExit.Ve:
                return new CpuExit(
                    CpuExitKind.VirtualizationException,
                    rip,
                    new VeInfo(c->VeReason, c->VeQualification, c->VeGla, c->VeGpa, length, 0),
                    CpuExit.VirtualizationExceptionVector,
                    0,
                    null);
            case CoreExit.EptFatal:
                return new CpuExit(
                    CpuExitKind.EptViolation,
                    rip,
                    new VeInfo(VeExitReason.EptViolation, c->VeQualification, c->VeGla, c->VeGpa, length, 0),
                    0,
                    0,
                    $"EPT violation on private memory at GPA 0x{c->VeGpa:x}: {DescribeDetail(c)}{Disassemble(rip)}");
            default:
                return new CpuExit(CpuExitKind.Exception, rip, default, c->Vector, c->ErrorCode, decodeDetail ?? $"{DescribeDetail(c)}{Disassemble(rip)}");
        }
    }

    private static string DescribeDetail(CpuCore* c) => c->Detail switch
    {
        FaultDetail.Ud2 => "#UD: ud2",
        FaultDetail.DivideByZero => "#DE: division by zero",
        FaultDetail.DivideOverflow => "#DE: quotient does not fit the destination",
        FaultDetail.BeyondGpaw => (c->VeGla >> 47) == 0x1_FFFF
            ? $"#GP(0): address 0x{c->VeGla:x} is beyond the {GuestPhysical.Gpaw}-bit guest-physical address width (a higher-half linear address: TdxSim does not translate through the guest's page tables yet, CR3 0x{c->State.Cr3:x})"
            : $"#GP(0): address 0x{c->VeGla:x} is beyond the {GuestPhysical.Gpaw}-bit guest-physical address width",
        FaultDetail.PrivateOutsideMemory => "the address is outside private memory",
        FaultDetail.PrivateConvertedToShared => "the page was converted to shared",
        FaultDetail.FetchFromShared => "instruction fetch from a shared GPA",
        FaultDetail.Unsupported => "#UD: unsupported instruction",
        FaultDetail.NotCodeSegment64 => $"#GP(0x{c->ErrorCode:x}): far return to a selector that is not a present 64-bit code segment in the GDT",
        FaultDetail.BadSegmentSelector => $"#GP(0x{c->ErrorCode:x}): segment selector beyond the GDT limit or not present",
        FaultDetail.PageFault => $"#PF(0x{c->ErrorCode:x}) at linear address 0x{c->VeGla:x} (CR3 0x{c->State.Cr3:x}; no IDT to deliver it)",
        FaultDetail.NonCanonical => $"#GP(0): non-canonical address 0x{c->VeGla:x}",
        FaultDetail.StraddlingWrite => $"a write at 0x{c->VeGla:x} straddles two linear pages that are not adjacent in guest-physical memory (not implemented)",
        FaultDetail.TripleFault => $"triple fault: exception {c->VeQualification} while delivering #DF (IDT base 0x{c->State.IdtrBase:x}, limit 0x{c->State.IdtrLimit:x}, RSP 0x{c->State.Gpr[Gpr.Rsp]:x})",
        FaultDetail.BadGate => $"#GP(0x{c->ErrorCode:x}): IDT gate not present or not a 64-bit interrupt/trap gate",
        FaultDetail.BadTss => $"#TS(0x{c->ErrorCode:x}): bad task register or TSS",
        _ => c->Vector switch
        {
            CpuExit.GeneralProtection => "#GP(0)",
            CpuExit.DivideError => "#DE",
            CpuExit.InvalidOpcode => "#UD",
            _ => $"exception {c->Vector}",
        },
    };

    /// <summary>" in 'instruction' (bytes)" for fault messages, when the bytes at <paramref name="rip"/> are readable.</summary>
    private string Disassemble(ulong rip)
    {
        Span<byte> bytes = stackalloc byte[15];
        int n = 15;
        while (n > 0 && !TryReadLinear(rip, bytes[..n]))
        {
            n--;
        }

        if (n == 0)
        {
            return string.Empty;
        }

        var decoder = Decoder.Create(64, new ByteArrayCodeReader(bytes[..n].ToArray()), rip);
        decoder.Decode(out Instruction instr);
        if (instr.Code == Code.INVALID)
        {
            return string.Empty;
        }

        return $" in '{instr}' ({Convert.ToHexString(bytes[..instr.Length]).ToLowerInvariant()})";
    }
}
