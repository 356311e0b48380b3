using TdxSim.Abi;
using TdxSim.Abi.Messages;
using TdxSim.Cpu;
using TdxSim.Memory;

namespace TdxSim.Guest.Kernel;

/// <summary>
/// The built-in guest kernel's #VE handler, modelled on Linux's <c>virt_exception_kernel()</c>
/// (arch/x86/coco/tdx/tdx.c; reference 3.4 to 3.6). It runs as guest-side code of one vCPU:
/// TDG.VP.VEINFO.GET first, then one TDG.VP.VMCALL per exit reason (several for unrolled string I/O,
/// TDG.MEM.PAGE.ACCEPT for a pending private page), then RIP advances by the instruction length in
/// exactly one place, <see cref="Finish"/>.
/// </summary>
/// <remarks>
/// The handler is a state machine driven by TDCALL completions, so the vCPU actor can send each
/// TDCALL as a message and resume the handler when the reply arrives. It owns no thread and knows
/// no actor. One instance per vCPU; not thread-safe.
/// </remarks>
public sealed class VeHandler
{
    private readonly GuestPhysicalMemory _memory;
    private readonly GuestKernelOptions _options;
    private readonly MmioDecoder _mmioDecoder = new();
    private readonly byte[] _fetch = new byte[MmioDecoder.MaxInstructionLength];

    private readonly Diagnostics.VcpuStatistics? _stats;

    private Phase _phase;
    private int _acceptBusyRetries;
    private VeInfo _ve;
    private MmioInstruction _mmio;
    private IoAccess _io;

    /// <summary>Creates the handler of one vCPU.</summary>
    /// <param name="memory">The TD's memory (the kernel reads instruction bytes and page states).</param>
    /// <param name="options">How the kernel behaves.</param>
    /// <param name="statistics">Where the kernel counts its accept retries, or null.</param>
    public VeHandler(GuestPhysicalMemory memory, GuestKernelOptions? options = null, Diagnostics.VcpuStatistics? statistics = null)
    {
        ArgumentNullException.ThrowIfNull(memory);
        _memory = memory;
        _options = options ?? GuestKernelOptions.Default;
        _stats = statistics;
    }

    /// <summary>TDG.MEM.PAGE.ACCEPTs this handler re-issued because the module answered TDX_OPERAND_BUSY.</summary>
    public long AcceptBusyRetries { get; private set; }

    private enum Phase
    {
        Idle,
        VeInfo,
        Hlt,
        Rdmsr,
        Wrmsr,
        Cpuid,
        Io,
        StringIo,
        MmioRead,
        MmioWrite,
        Accept,
    }

    /// <summary>True while a #VE is being handled (between <see cref="Begin"/> and Resume/Fatal).</summary>
    public bool IsActive => _phase != Phase.Idle;

    /// <summary>
    /// True while unrolling INS/OUTS element by element: the vCPU is then at an element boundary between two
    /// TDVMCALLs (RCX, RSI/RDI updated, RIP still on the instruction), where it may stop on its instruction limit.
    /// </summary>
    public bool IsUnrollingStringIo => _phase == Phase.StringIo;

    /// <summary>The VE info of the #VE being handled (valid after TDG.VP.VEINFO.GET returned).</summary>
    public VeInfo CurrentVe => _ve;

    /// <summary>The #VE was injected: the kernel's first act is TDG.VP.VEINFO.GET (reference 3.2).</summary>
    public KernelStep Begin()
    {
        if (_phase != Phase.Idle)
        {
            // A #VE inside the #VE handler before VE info was read is a #DF in the module; reaching
            // here means the vCPU actor started a second handler: an emulator bug, not a guest error.
            throw new InvalidOperationException("#VE handler re-entered while a #VE is being handled");
        }

        _phase = Phase.VeInfo;
        Gprs regs = default;
        regs[Gpr.Rax] = (ulong)TdcallLeaf.VpVeinfoGet;
        return KernelStep.Tdcall(regs);
    }

    /// <summary>Abandons the handler (the vCPU is stopping).</summary>
    public void Reset() => _phase = Phase.Idle;

    /// <summary>Continues the handler with the completion of the TDCALL it asked for.</summary>
    public KernelStep OnTdcallCompleted(ref CpuState cpu, TdcallCompleted reply)
    {
        ArgumentNullException.ThrowIfNull(reply);
        Gprs r = reply.Regs;
        ulong status = r[Gpr.Rax];
        switch (_phase)
        {
            case Phase.VeInfo:
                if (status != TdxStatus.Success)
                {
                    return Fail($"TDG.VP.VEINFO.GET failed: {TdxStatus.Name(status)}");
                }

                _ve = new VeInfo(
                    (VeExitReason)(uint)r[Gpr.Rcx],
                    r[Gpr.Rdx],
                    r[Gpr.R8],
                    r[Gpr.R9],
                    (uint)r[Gpr.R10],
                    (uint)(r[Gpr.R10] >> 32));
                return Dispatch(ref cpu);

            case Phase.Accept:
                // TDX_OPERAND_BUSY: another vCPU's accept holds the page's SEPT entry. Issue the same
                // accept again (EDK2's TdxLib TdAcceptPages retries OPERAND_BUSY the same way, at most 3
                // times; Linux 6.12's try_accept_one does not, see docs/accept-busy.md), up to the kernel's
                // retry limit.
                if (TdxStatus.ClassOf(status) == TdxStatus.OperandBusy && _acceptBusyRetries < _options.AcceptBusyRetryLimit)
                {
                    _acceptBusyRetries++;
                    AcceptBusyRetries++;
                    _stats?.CountAcceptBusyRetry();
                    return AcceptTdcall(_ve.Gpa);
                }

                // TDX_PAGE_ALREADY_ACCEPTED is a warning: another vCPU won the race. Either way the
                // instruction is re-executed (no RIP advance).
                if (status != TdxStatus.Success && TdxStatus.ClassOf(status) != TdxStatus.PageAlreadyAccepted)
                {
                    return Fail($"TDG.MEM.PAGE.ACCEPT of 0x{PageOf(_ve.Gpa):x} failed: {TdxStatus.Name(status)}");
                }

                _phase = Phase.Idle;
                return KernelStep.Resume();

            case Phase.Idle:
                throw new InvalidOperationException("TDCALL completion with no #VE being handled");

            default:
                // Every other phase waits for a TDG.VP.VMCALL. Linux panics when the TDCALL itself fails.
                if (status != TdxStatus.Success)
                {
                    return Fail($"TDVMCALL failed. TDX module bug? ({TdxStatus.Name(status)})");
                }

                return OnVmcallCompleted(ref cpu, r);
        }
    }

    private KernelStep Dispatch(ref CpuState cpu)
    {
        switch (_ve.ExitReason)
        {
            case VeExitReason.Hlt:
                // Recent kernels refuse HLT emulation with interrupts enabled: a wake-up interrupt could be
                // consumed before the VMM is asked to halt (reference 3.4).
                if ((cpu.Rflags & Rflags.If) != 0)
                {
                    return Fail("HLT emulation with IRQs enabled");
                }

                _phase = Phase.Hlt;
                return Vmcall(TdVmcallSubfunction.InstructionHlt, r12: 1);

            case VeExitReason.MsrRead:
                _phase = Phase.Rdmsr;
                return Vmcall(TdVmcallSubfunction.InstructionRdmsr, r12: (uint)cpu.Gpr[Gpr.Rcx]);

            case VeExitReason.MsrWrite:
                _phase = Phase.Wrmsr;
                return Vmcall(
                    TdVmcallSubfunction.InstructionWrmsr,
                    r12: (uint)cpu.Gpr[Gpr.Rcx],
                    r13: ((ulong)(uint)cpu.Gpr[Gpr.Rdx] << 32) | (uint)cpu.Gpr[Gpr.Rax]);

            case VeExitReason.Cpuid:
            {
                uint leaf = (uint)cpu.Gpr[Gpr.Rax];
                if (leaf is < 0x4000_0000 or > 0x4FFF_FFFF)
                {
                    // Only the hypervisor range goes to the VMM; every other leaf the module did not
                    // virtualize reads as zeros, without asking the untrusted host.
                    cpu.Gpr[Gpr.Rax] = 0;
                    cpu.Gpr[Gpr.Rbx] = 0;
                    cpu.Gpr[Gpr.Rcx] = 0;
                    cpu.Gpr[Gpr.Rdx] = 0;
                    return Finish(ref cpu, _ve.InstructionLength);
                }

                _phase = Phase.Cpuid;
                return Vmcall(TdVmcallSubfunction.InstructionCpuid, r12: leaf, r13: (uint)cpu.Gpr[Gpr.Rcx]);
            }

            case VeExitReason.IoInstruction:
                return BeginIo(ref cpu);

            case VeExitReason.EptViolation:
                return GuestPhysical.IsShared(_ve.Gpa) ? BeginMmio(ref cpu) : BeginPrivateEptViolation();

            default:
                return Fail($"Unexpected #VE: {_ve.ReasonName} ({(uint)_ve.ExitReason})");
        }
    }

    private KernelStep BeginIo(ref CpuState cpu)
    {
        ulong qual = _ve.ExitQualification;
        _io = new IoAccess(IoQualification.Size(qual), IoQualification.IsIn(qual), IoQualification.Port(qual),
            IoQualification.IsString(qual), IoQualification.IsRep(qual));
        if (_io.IsString)
        {
            if (!_options.UnrollStringIo)
            {
                return Fail($"string I/O ({(_io.IsIn ? "INS" : "OUTS")} port 0x{_io.Port:x}) is not supported in a TDX guest");
            }

            _phase = Phase.StringIo;
            return NextStringElement(ref cpu);
        }

        _phase = Phase.Io;
        return _io.IsIn
            ? Vmcall(TdVmcallSubfunction.InstructionIo, r12: (ulong)_io.Size, r13: TdVmcall.IoDirectionIn, r14: _io.Port)
            : Vmcall(TdVmcallSubfunction.InstructionIo, r12: (ulong)_io.Size, r13: TdVmcall.IoDirectionOut, r14: _io.Port,
                r15: cpu.Gpr[Gpr.Rax] & SizeMask(_io.Size));
    }

    /// <summary>Issues the TDVMCALL of the next INS/OUTS element, or finishes when the count is exhausted.</summary>
    private KernelStep NextStringElement(ref CpuState cpu)
    {
        if (_io.IsRep && cpu.Gpr[Gpr.Rcx] == 0)
        {
            return Finish(ref cpu, _ve.InstructionLength);
        }

        if (_io.IsIn)
        {
            return Vmcall(TdVmcallSubfunction.InstructionIo, r12: (ulong)_io.Size, r13: TdVmcall.IoDirectionIn, r14: _io.Port);
        }

        Span<byte> element = stackalloc byte[8];
        element.Clear();
        if (!TryReadGuest(cpu.Gpr[Gpr.Rsi], element[.._io.Size]))
        {
            return Fail($"OUTS: source 0x{cpu.Gpr[Gpr.Rsi]:x} is not accessible guest memory");
        }

        return Vmcall(TdVmcallSubfunction.InstructionIo, r12: (ulong)_io.Size, r13: TdVmcall.IoDirectionOut, r14: _io.Port,
            r15: BitConverter.ToUInt64(element));
    }

    private KernelStep BeginMmio(ref CpuState cpu)
    {
        int fetched = FetchInstruction(cpu.Rip);
        if (fetched == 0)
        {
            return Fail($"MMIO: cannot fetch the instruction at RIP 0x{cpu.Rip:x}");
        }

        _mmio = _mmioDecoder.Decode(_fetch.AsSpan(0, fetched), cpu.Rip);
        switch (_mmio.Kind)
        {
            case MmioKind.Unsupported:
                return Fail($"MMIO at 0x{_ve.Gpa:x}: unsupported instruction '{_mmio.Text}'");
            case MmioKind.Movs:
                return Fail($"MMIO at 0x{_ve.Gpa:x}: MOVS is not supported in a TDX guest ('{_mmio.Text}')");
        }

        // Reject accesses that split pages: the kernel lets load_unaligned_zeropad's fixup handle them.
        if ((_ve.Gpa & (GuestPhysical.PageSize - 1)) + (ulong)_mmio.AccessSize > GuestPhysical.PageSize)
        {
            return Fail($"MMIO at 0x{_ve.Gpa:x}: {_mmio.AccessSize}-byte access crosses a page boundary");
        }

        ulong size = (ulong)_mmio.AccessSize;
        switch (_mmio.Kind)
        {
            case MmioKind.Write:
                _phase = Phase.MmioWrite;
                return Vmcall(TdVmcallSubfunction.VeRequestMmio, r12: size, r13: TdVmcall.MmioWrite, r14: _ve.Gpa,
                    r15: ReadRegister(ref cpu, _mmio.Register, _mmio.HighByte) & SizeMask(_mmio.AccessSize));
            case MmioKind.WriteImmediate:
                _phase = Phase.MmioWrite;
                return Vmcall(TdVmcallSubfunction.VeRequestMmio, r12: size, r13: TdVmcall.MmioWrite, r14: _ve.Gpa,
                    r15: _mmio.Immediate & SizeMask(_mmio.AccessSize));
            default:
                _phase = Phase.MmioRead;
                return Vmcall(TdVmcallSubfunction.VeRequestMmio, r12: size, r13: TdVmcall.MmioRead, r14: _ve.Gpa);
        }
    }

    private KernelStep BeginPrivateEptViolation()
    {
        ulong gpa = _ve.Gpa;
        PageState state = _memory.GetPageState(gpa);
        if (_options.AcceptPendingPages && _options.LazyAccept && state == PageState.Accepted)
        {
            // The module injects this #VE only for a pending page, so in a TD whose memory starts pending an
            // accepted page here means another vCPU accepted it between this vCPU's fault and now (an accept
            // storm): nothing to accept, re-execute the faulting instruction.
            _phase = Phase.Idle;
            return KernelStep.Resume();
        }

        if (!_options.AcceptPendingPages || state != PageState.Pending)
        {
            return Fail($"Unexpected EPT-violation on private memory at 0x{gpa:x}");
        }

        // Accept the 4 KiB page and re-execute the faulting instruction (KVM TDX selftests' handler).
        _phase = Phase.Accept;
        _acceptBusyRetries = 0;
        return AcceptTdcall(gpa);
    }

    private static KernelStep AcceptTdcall(ulong gpa)
    {
        Gprs regs = default;
        regs[Gpr.Rax] = (ulong)TdcallLeaf.MemPageAccept;
        regs[Gpr.Rcx] = PageOf(gpa); // level 0 (4 KiB) in bits 2:0
        return KernelStep.Tdcall(regs);
    }

    private KernelStep OnVmcallCompleted(ref CpuState cpu, in Gprs r)
    {
        ulong vmcallStatus = r[Gpr.R10];
        ulong r11 = r[Gpr.R11];
        switch (_phase)
        {
            case Phase.Hlt:
                return vmcallStatus == TdVmcall.Success
                    ? Finish(ref cpu, _ve.InstructionLength)
                    : Fail($"TDVMCALL<Instruction.HLT> failed: {TdVmcall.StatusName(vmcallStatus)}");

            case Phase.Rdmsr:
                if (vmcallStatus != TdVmcall.Success)
                {
                    return Fail($"RDMSR 0x{(uint)cpu.Gpr[Gpr.Rcx]:x} failed: {TdVmcall.StatusName(vmcallStatus)}");
                }

                cpu.Gpr[Gpr.Rax] = (uint)r11;
                cpu.Gpr[Gpr.Rdx] = r11 >> 32;
                return Finish(ref cpu, _ve.InstructionLength);

            case Phase.Wrmsr:
                return vmcallStatus == TdVmcall.Success
                    ? Finish(ref cpu, _ve.InstructionLength)
                    : Fail($"WRMSR 0x{(uint)cpu.Gpr[Gpr.Rcx]:x} failed: {TdVmcall.StatusName(vmcallStatus)}");

            case Phase.Cpuid:
                if (vmcallStatus != TdVmcall.Success)
                {
                    return Fail($"CPUID 0x{(uint)cpu.Gpr[Gpr.Rax]:x} failed: {TdVmcall.StatusName(vmcallStatus)}");
                }

                cpu.Gpr[Gpr.Rax] = (uint)r[Gpr.R12];
                cpu.Gpr[Gpr.Rbx] = (uint)r[Gpr.R13];
                cpu.Gpr[Gpr.Rcx] = (uint)r[Gpr.R14];
                cpu.Gpr[Gpr.Rdx] = (uint)r[Gpr.R15];
                return Finish(ref cpu, _ve.InstructionLength);

            case Phase.Io:
                if (_io.IsIn)
                {
                    // A failed IN still clears the destination bits first (value 0 merged), then faults.
                    MergeIn(ref cpu, vmcallStatus == TdVmcall.Success ? r11 : 0);
                }

                return vmcallStatus == TdVmcall.Success
                    ? Finish(ref cpu, _ve.InstructionLength)
                    : Fail($"{(_io.IsIn ? "IN" : "OUT")} port 0x{_io.Port:x} size {_io.Size} failed: {TdVmcall.StatusName(vmcallStatus)}");

            case Phase.StringIo:
                return OnStringElementCompleted(ref cpu, vmcallStatus, r11);

            case Phase.MmioWrite:
                return vmcallStatus == TdVmcall.Success
                    ? Finish(ref cpu, (uint)_mmio.Length)
                    : Fail($"MMIO write of {_mmio.AccessSize} bytes at 0x{_ve.Gpa:x} failed: {TdVmcall.StatusName(vmcallStatus)}");

            case Phase.MmioRead:
                if (vmcallStatus != TdVmcall.Success)
                {
                    return Fail($"MMIO read of {_mmio.AccessSize} bytes at 0x{_ve.Gpa:x} failed: {TdVmcall.StatusName(vmcallStatus)}");
                }

                StoreMmioRead(ref cpu, r11);
                return Finish(ref cpu, (uint)_mmio.Length);

            default:
                throw new InvalidOperationException($"TDVMCALL completion in phase {_phase}");
        }
    }

    private KernelStep OnStringElementCompleted(ref CpuState cpu, ulong vmcallStatus, ulong r11)
    {
        if (vmcallStatus != TdVmcall.Success)
        {
            return Fail($"{(_io.IsIn ? "INS" : "OUTS")} port 0x{_io.Port:x} size {_io.Size} failed: {TdVmcall.StatusName(vmcallStatus)}");
        }

        long step = (cpu.Rflags & Rflags.Df) != 0 ? -_io.Size : _io.Size;
        if (_io.IsIn)
        {
            Span<byte> element = stackalloc byte[8];
            BitConverter.TryWriteBytes(element, r11);
            if (!TryWriteGuest(cpu.Gpr[Gpr.Rdi], element[.._io.Size]))
            {
                return Fail($"INS: destination 0x{cpu.Gpr[Gpr.Rdi]:x} is not accessible guest memory");
            }

            cpu.Gpr[Gpr.Rdi] = unchecked(cpu.Gpr[Gpr.Rdi] + (ulong)step);
        }
        else
        {
            cpu.Gpr[Gpr.Rsi] = unchecked(cpu.Gpr[Gpr.Rsi] + (ulong)step);
        }

        // Each unrolled element counts as a retired instruction, as an instruction-counting emulator counts REP
        // iterations: otherwise one REP INS/OUTS with a huge RCX would run unbounded by max_instructions.
        cpu.InstructionsRetired++;
        if (!_io.IsRep)
        {
            return Finish(ref cpu, _ve.InstructionLength);
        }

        cpu.Gpr[Gpr.Rcx]--;
        return NextStringElement(ref cpu);
    }

    /// <summary>
    /// IN writes AL, AX or EAX exactly as the hardware instruction would: 1- and 2-byte reads keep the
    /// other bits of RAX; a 4-byte read zero-extends into RAX (Linux since its 2026 fix; reference 3.4).
    /// </summary>
    private void MergeIn(ref CpuState cpu, ulong value)
    {
        ulong mask = SizeMask(_io.Size);
        cpu.Gpr[Gpr.Rax] = _io.Size == 4
            ? value & mask
            : (cpu.Gpr[Gpr.Rax] & ~mask) | (value & mask);
    }

    /// <summary>
    /// Stores an MMIO read the way Linux's handle_mmio() does (reference 3.5 step 4): a plain 4-byte MOV
    /// zero-extends to 64 bits while 1- and 2-byte MOVs keep the upper bits; MOVZX and MOVSX first fill
    /// operand-size bytes with zeros (or 0xFF when the value's sign bit is set) and then copy the value.
    /// </summary>
    /// <remarks>
    /// Like Linux, MOVZX/MOVSX with a 32-bit destination fill only the low four bytes and leave bits 63:32
    /// as they were, where hardware would zero them. AH, CH, DH and BH are written as hardware does.
    /// </remarks>
    private void StoreMmioRead(ref CpuState cpu, ulong value)
    {
        int size = _mmio.AccessSize;
        value &= SizeMask(size);
        if (_mmio.HighByte)
        {
            ulong old = cpu.Gpr[_mmio.Register];
            cpu.Gpr[_mmio.Register] = (old & ~0xFF00UL) | (value << 8);
            return;
        }

        ulong reg = cpu.Gpr[_mmio.Register];
        int extendSize;
        ulong extendByte = 0;
        switch (_mmio.Kind)
        {
            case MmioKind.Read:
                extendSize = size == 4 ? 8 : 0;
                break;
            case MmioKind.ReadZeroExtend:
                extendSize = _mmio.OperandSize;
                break;
            default:
                extendSize = _mmio.OperandSize;
                ulong signBit = size == 1 ? 0x80UL : 0x8000UL;
                extendByte = (value & signBit) != 0 ? 0xFFUL : 0;
                break;
        }

        ulong extendMask = SizeMask(extendSize);
        reg = (reg & ~extendMask) | ((extendByte * 0x0101_0101_0101_0101UL) & extendMask);
        ulong valueMask = SizeMask(size);
        cpu.Gpr[_mmio.Register] = (reg & ~valueMask) | value;
    }

    /// <summary>The one place RIP advances: by the length of the instruction that caused the #VE.</summary>
    private KernelStep Finish(ref CpuState cpu, uint instructionLength)
    {
        cpu.Rip += instructionLength;
        _phase = Phase.Idle;
        return KernelStep.Resume();
    }

    private KernelStep Fail(string detail)
    {
        _phase = Phase.Idle;
        return KernelStep.Fatal(detail);
    }

    /// <summary>Builds a TDG.VP.VMCALL as Linux's __tdx_hypercall() does: R10 = 0 (GHCI), R11 = sub-function.</summary>
    private KernelStep Vmcall(TdVmcallSubfunction subfunction, ulong r12 = 0, ulong r13 = 0, ulong r14 = 0, ulong r15 = 0)
    {
        Gprs regs = default;
        regs[Gpr.Rax] = (ulong)TdcallLeaf.VpVmcall;
        regs[Gpr.Rcx] = _options.VmcallSelectMask;
        regs[Gpr.R10] = TdVmcall.StandardCall;
        regs[Gpr.R11] = (ulong)subfunction;
        regs[Gpr.R12] = r12;
        regs[Gpr.R13] = r13;
        regs[Gpr.R14] = r14;
        regs[Gpr.R15] = r15;
        return KernelStep.Tdcall(regs);
    }

    private static ulong ReadRegister(ref CpuState cpu, Gpr register, bool highByte)
        => highByte ? (cpu.Gpr[register] >> 8) & 0xFF : cpu.Gpr[register];

    private int FetchInstruction(ulong rip)
    {
        // The kernel reads up to 15 bytes at RIP, but never past the end of accessible memory.
        int length = MmioDecoder.MaxInstructionLength;
        while (length > 0)
        {
            if (TryReadGuest(rip, _fetch.AsSpan(0, length)))
            {
                return length;
            }

            // Retry with what fits in the current page, then give up.
            int inPage = (int)(GuestPhysical.PageSize - (rip & (GuestPhysical.PageSize - 1)));
            length = length > inPage ? inPage : 0;
        }

        return 0;
    }

    private bool TryReadGuest(ulong gpa, Span<byte> destination)
        => GuestPhysical.IsShared(gpa) ? _memory.TryReadShared(gpa, destination) : _memory.TryReadPrivate(gpa, destination);

    private bool TryWriteGuest(ulong gpa, ReadOnlySpan<byte> source)
        => GuestPhysical.IsShared(gpa) ? _memory.TryWriteShared(gpa, source) : _memory.TryWritePrivate(gpa, source);

    private static ulong PageOf(ulong gpa) => gpa & ~(GuestPhysical.PageSize - 1);

    private static ulong SizeMask(int size) => size >= 8 ? ulong.MaxValue : (1UL << (size * 8)) - 1;

    private readonly record struct IoAccess(int Size, bool IsIn, ushort Port, bool IsString, bool IsRep);
}
