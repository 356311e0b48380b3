using Iced.Intel;
using static Iced.Intel.AssemblerRegisters;

namespace TdxSim.Images.Guests;

/// <summary>How built-in guest code reaches devices and the host.</summary>
public enum IoPath
{
    /// <summary>Plain instructions (IN, OUT, CPUID, RDMSR, WRMSR, MOV to MMIO) that raise #VE for the guest kernel.</summary>
    Ve,

    /// <summary>Direct TDCALLs (TDG.VP.VMCALL), the decompressor's way: no #VE.</summary>
    Paravirt,
}

/// <summary>
/// A small I/O library for built-in guests, emitted once per <see cref="IoPath"/> so the same guest
/// logic can run over #VE and over paravirt TDCALLs and show the device-visible results agree.
/// </summary>
/// <remarks>
/// Calling convention of every routine: arguments in RAX, RCX, RDX, RDI, RSI as documented;
/// results in RAX (and RBX, RCX, RDX for CPUID); every other register is preserved, and RAX too
/// where it carries no result. The paravirt
/// routines use GPR_SELECT = R10..R15 (Linux before v6.6) and save those registers, because a TDVMCALL
/// hands every selected register to the untrusted VMM for both input and output.
/// </remarks>
public sealed class GuestIo
{
    /// <summary>COM1 base port.</summary>
    public const ushort Com1 = 0x3F8;

    /// <summary>GPR_SELECT used by the paravirt routines: R10 to R15.</summary>
    public const ushort ParavirtSelect = 0xFC00;

    private readonly Assembler _a;
    private readonly Label _fail;

    /// <summary>Creates the routine labels; call <see cref="EmitRoutines"/> once, away from straight-line code.</summary>
    /// <param name="a">The assembler.</param>
    /// <param name="path">Which path the routines take.</param>
    /// <param name="fail">Where a failed TDVMCALL jumps, with the TDVMCALL status in R10 and the sub-function in R11.</param>
    public GuestIo(Assembler a, IoPath path, Label fail)
    {
        _a = a;
        Path = path;
        _fail = fail;
        string p = path == IoPath.Ve ? "ve" : "pv";
        Putc = a.CreateLabel($"{p}_putc");
        Puts = a.CreateLabel($"{p}_puts");
        PutHex = a.CreateLabel($"{p}_puthex");
        PutDec = a.CreateLabel($"{p}_putdec");
        OutB = a.CreateLabel($"{p}_outb");
        InB = a.CreateLabel($"{p}_inb");
        OutD = a.CreateLabel($"{p}_outd");
        InD = a.CreateLabel($"{p}_ind");
        Cpuid = a.CreateLabel($"{p}_cpuid");
        RdMsr = a.CreateLabel($"{p}_rdmsr");
        WrMsr = a.CreateLabel($"{p}_wrmsr");
        MmioRead32 = a.CreateLabel($"{p}_mmio_rd32");
        MmioWrite32 = a.CreateLabel($"{p}_mmio_wr32");
        MmioRead64 = a.CreateLabel($"{p}_mmio_rd64");
        MmioWrite64 = a.CreateLabel($"{p}_mmio_wr64");
        Tdvmcall = a.CreateLabel($"{p}_tdvmcall");
        TdvmcallStatus = a.CreateLabel($"{p}_tdvmcall_status");
    }

    /// <summary>The path these routines take.</summary>
    public IoPath Path { get; }

    /// <summary>The failure handler: jump here with R10 = the TDVMCALL status, R11 = the sub-function.</summary>
    public Label Fail => _fail;

    /// <summary>putc(AL): waits for LSR.THRE, then writes AL to COM1.</summary>
    public Label Putc { get; }

    /// <summary>puts(RSI = NUL-terminated string).</summary>
    public Label Puts { get; }

    /// <summary>puthex(RAX = value, RCX = number of hex digits).</summary>
    public Label PutHex { get; }

    /// <summary>putdec(RAX = unsigned value).</summary>
    public Label PutDec { get; }

    /// <summary>outb(DX = port, AL = value).</summary>
    public Label OutB { get; }

    /// <summary>inb(DX = port) → AL (RAX zero-extended).</summary>
    public Label InB { get; }

    /// <summary>outd(DX = port, EAX = value).</summary>
    public Label OutD { get; }

    /// <summary>ind(DX = port) → EAX.</summary>
    public Label InD { get; }

    /// <summary>cpuid(EAX = leaf, ECX = sub-leaf) → EAX, EBX, ECX, EDX.</summary>
    public Label Cpuid { get; }

    /// <summary>rdmsr(ECX) → RAX = EDX:EAX.</summary>
    public Label RdMsr { get; }

    /// <summary>wrmsr(ECX, RAX = 64-bit value).</summary>
    public Label WrMsr { get; }

    /// <summary>mmio_read32(RDI = shared GPA) → EAX.</summary>
    public Label MmioRead32 { get; }

    /// <summary>mmio_write32(RDI = shared GPA, EAX = value).</summary>
    public Label MmioWrite32 { get; }

    /// <summary>mmio_read64(RDI = shared GPA) → RAX.</summary>
    public Label MmioRead64 { get; }

    /// <summary>mmio_write64(RDI = shared GPA, RAX = value).</summary>
    public Label MmioWrite64 { get; }

    /// <summary>
    /// tdvmcall(R11 = sub-function, R12..R15 = arguments) → R11..R15 outputs; jumps to the failure handler
    /// unless both the TDCALL status (RAX) and the TDVMCALL status (R10) are zero. Clobbers RAX, RCX, R10.
    /// Available on both paths (some operations, such as MapGPA, exist only as TDVMCALLs).
    /// </summary>
    public Label Tdvmcall { get; }

    /// <summary>
    /// tdvmcall_status(R11 = sub-function, R12..R15 = arguments) → R10 = the TDVMCALL status, R11..R15 outputs: for
    /// callers that handle a failed TDVMCALL themselves (decompressor-style port I/O, MapGPA's retry loop). A failed
    /// TDCALL (RAX ≠ 0) still jumps to the failure handler, as Linux panics on it. Clobbers RAX, RCX, R10.
    /// </summary>
    public Label TdvmcallStatus { get; }

    /// <summary>Emits a call that prints a string literal (placed in a string pool by <paramref name="strings"/>).</summary>
    public void Print(StringPool strings, string text)
    {
        ArgumentNullException.ThrowIfNull(strings);
        _a.push(rsi);
        _a.lea(rsi, __[strings.Get(text)]);
        _a.call(Puts);
        _a.pop(rsi);
    }

    /// <summary>Emits a call that prints RAX as <paramref name="digits"/> hex digits (RAX, RCX preserved).</summary>
    public void PrintHex(int digits)
    {
        _a.push(rcx);
        _a.mov(ecx, digits);
        _a.call(PutHex);
        _a.pop(rcx);
    }

    /// <summary>Emits the bodies of every routine.</summary>
    public void EmitRoutines()
    {
        EmitTdvmcall();
        EmitPortRoutines();
        EmitPutc();
        EmitPuts();
        EmitPutHex();
        EmitPutDec();
        EmitCpuid();
        EmitMsr();
        EmitMmio();
    }

    private void Place(Label label)
    {
        Label l = label;
        _a.Label(ref l);
    }

    private void EmitTdvmcall()
    {
        Place(Tdvmcall);
        Label ok = _a.CreateLabel();
        _a.xor(eax, eax);                    // TDG.VP.VMCALL
        _a.mov(ecx, ParavirtSelect);         // GPR_SELECT: R10..R15
        _a.xor(r10d, r10d);                  // standard GHCI call
        _a.tdcall();
        _a.test(rax, rax);
        _a.jnz(_fail);
        _a.test(r10, r10);
        _a.jz(ok);
        _a.jmp(_fail);
        _a.Label(ref ok);
        _a.ret();

        Place(TdvmcallStatus);
        _a.xor(eax, eax);
        _a.mov(ecx, ParavirtSelect);
        _a.xor(r10d, r10d);
        _a.tdcall();
        _a.test(rax, rax);
        _a.jnz(_fail);
        _a.ret();
    }

    /// <summary>
    /// Saves RCX and R10..R15 (and RAX unless the routine returns R11 in it) around a TDVMCALL whose
    /// arguments <paramref name="body"/> loads.
    /// </summary>
    private void WithTdvmcallFrame(Action body, bool returnR11InRax = false, Action? call = null)
    {
        if (!returnR11InRax)
        {
            _a.push(rax);
        }

        _a.push(rcx);
        _a.push(r10);
        _a.push(r11);
        _a.push(r12);
        _a.push(r13);
        _a.push(r14);
        _a.push(r15);
        body();
        if (call is null)
        {
            _a.call(Tdvmcall);
        }
        else
        {
            call();
        }

        if (returnR11InRax)
        {
            _a.mov(rax, r11);
        }

        _a.pop(r15);
        _a.pop(r14);
        _a.pop(r13);
        _a.pop(r12);
        _a.pop(r11);
        _a.pop(r10);
        _a.pop(rcx);
        if (!returnR11InRax)
        {
            _a.pop(rax);
        }
    }

    /// <summary>
    /// The paravirt form of a device access, shared by Instruction.IO (30) and #VE.RequestMMIO (48): R12 size,
    /// R13 = 1 for a write (both sub-functions encode direction so), R14 the port or GPA that
    /// <paramref name="loadAddress"/> loads, R15 the value from RAX on a write; a read returns R11 in RAX.
    /// </summary>
    /// <remarks>
    /// Port I/O (<paramref name="decompressorIo"/>) behaves as Linux's decompressor does over TDX (reference 5): an IN
    /// whose TDVMCALL failed reads all ones, an OUT ignores the status. MMIO fails to the failure handler.
    /// </remarks>
    private void EmitParavirtAccess(int subfunction, int size, bool write, Action loadAddress, bool decompressorIo = false)
        => WithTdvmcallFrame(
            () =>
            {
                _a.mov(r11d, subfunction);
                _a.mov(r12d, size);
                _a.mov(r13d, write ? 1 : 0);
                loadAddress();
                if (!write)
                {
                    _a.xor(r15d, r15d);
                }
                else if (size == 8)
                {
                    _a.mov(r15, rax);
                }
                else
                {
                    _a.mov(r15d, eax);
                }
            },
            returnR11InRax: !write,
            call: decompressorIo ? () => EmitDecompressorCall(write) : null);

    private void EmitDecompressorCall(bool write)
    {
        _a.call(TdvmcallStatus);
        if (write)
        {
            return;
        }

        Label ok = _a.CreateLabel();
        _a.test(r10, r10);
        _a.jz(ok);
        _a.mov(r11, ulong.MaxValue);
        _a.Label(ref ok);
    }

    private void EmitPortRoutines()
    {
        // Instruction.IO: R12 size, R13 direction (0 in, 1 out), R14 port, R15 value; IN result in R11.
        (Label label, int size, bool isIn)[] routines = [(OutB, 1, false), (InB, 1, true), (OutD, 4, false), (InD, 4, true)];
        foreach ((Label label, int size, bool isIn) in routines)
        {
            Place(label);
            if (Path == IoPath.Ve)
            {
                switch ((size, isIn))
                {
                    case (1, false):
                        _a.@out(dx, al);
                        break;
                    case (1, true):
                        _a.xor(eax, eax);
                        _a.@in(al, dx);
                        break;
                    case (4, false):
                        _a.@out(dx, eax);
                        break;
                    default:
                        _a.@in(eax, dx);
                        break;
                }
            }
            else
            {
                EmitParavirtAccess(30, size, write: !isIn, () => _a.movzx(r14d, dx), decompressorIo: true);
                if (isIn && size == 1)
                {
                    _a.movzx(eax, al);
                }
                else if (isIn)
                {
                    _a.mov(eax, eax); // inl() returns 32 bits, whatever the host put above them
                }
            }

            _a.ret();
        }
    }

    private void EmitPutc()
    {
        // Poll LSR (COM1 + 5) for THRE (bit 5), then write THR: what a polling 8250 driver does.
        Place(Putc);
        Label wait = _a.CreateLabel();
        _a.push(rdx);
        _a.push(rax);
        _a.mov(edx, Com1 + 5);
        _a.Label(ref wait);
        _a.call(InB);
        _a.test(al, 0x20);
        _a.jz(wait);
        _a.pop(rax);
        _a.mov(edx, Com1);
        _a.call(OutB);
        _a.pop(rdx);
        _a.ret();
    }

    private void EmitPuts()
    {
        Place(Puts);
        Label loop = _a.CreateLabel();
        Label done = _a.CreateLabel();
        _a.push(rax);
        _a.push(rsi);
        _a.Label(ref loop);
        _a.movzx(eax, __byte_ptr[rsi]);
        _a.test(al, al);
        _a.jz(done);
        _a.call(Putc);
        _a.inc(rsi);
        _a.jmp(loop);
        _a.Label(ref done);
        _a.pop(rsi);
        _a.pop(rax);
        _a.ret();
    }

    private void EmitPutHex()
    {
        // RAX = value, RCX = digits (1..16): prints the low digits, most significant first.
        Place(PutHex);
        Label loop = _a.CreateLabel();
        Label letter = _a.CreateLabel();
        Label emit = _a.CreateLabel();
        _a.push(rax);
        _a.push(rbx);
        _a.push(rcx);
        _a.mov(rbx, rax);
        _a.Label(ref loop);
        _a.dec(ecx);
        _a.mov(rax, rbx);
        _a.push(rcx);
        _a.shl(ecx, 2);
        _a.shr(rax, cl);
        _a.pop(rcx);
        _a.and(eax, 0xF);
        _a.cmp(eax, 10);
        _a.jae(letter);
        _a.add(eax, '0');
        _a.jmp(emit);
        _a.Label(ref letter);
        _a.add(eax, 'a' - 10);
        _a.Label(ref emit);
        _a.call(Putc);
        _a.test(ecx, ecx);
        _a.jnz(loop);
        _a.pop(rcx);
        _a.pop(rbx);
        _a.pop(rax);
        _a.ret();
    }

    private void EmitPutDec()
    {
        // RAX = value: digits are pushed on the stack least significant first, then printed.
        Place(PutDec);
        Label divide = _a.CreateLabel();
        Label print = _a.CreateLabel();
        _a.push(rax);
        _a.push(rcx);
        _a.push(rdx);
        _a.push(rbx);
        _a.mov(ebx, 10);
        _a.xor(ecx, ecx);
        _a.Label(ref divide);
        _a.xor(edx, edx);
        _a.div(rbx);
        _a.add(edx, '0');
        _a.push(rdx);
        _a.inc(ecx);
        _a.test(rax, rax);
        _a.jnz(divide);
        _a.Label(ref print);
        _a.pop(rax);
        _a.call(Putc);
        _a.dec(ecx);
        _a.jnz(print);
        _a.pop(rbx);
        _a.pop(rdx);
        _a.pop(rcx);
        _a.pop(rax);
        _a.ret();
    }

    private void EmitCpuid()
    {
        Place(Cpuid);
        if (Path == IoPath.Ve)
        {
            _a.cpuid();
            _a.ret();
            return;
        }

        // Instruction.CPUID: R12 = leaf, R13 = sub-leaf → R12..R15 = EAX, EBX, ECX, EDX.
        _a.push(r10);
        _a.push(r11);
        _a.push(r12);
        _a.push(r13);
        _a.push(r14);
        _a.push(r15);
        _a.mov(r11d, 10);
        _a.mov(r12d, eax);
        _a.mov(r13d, ecx);
        // R14 and R15 are selected (R10..R15) but carry no input: zero them, as Linux's zero-initialized
        // tdx_module_args does, so no stale guest value reaches the VMM (issue 13's register poison found it).
        _a.xor(r14d, r14d);
        _a.xor(r15d, r15d);
        _a.call(Tdvmcall);
        _a.mov(eax, r12d);
        _a.mov(ebx, r13d);
        _a.mov(ecx, r14d);
        _a.mov(edx, r15d);
        _a.pop(r15);
        _a.pop(r14);
        _a.pop(r13);
        _a.pop(r12);
        _a.pop(r11);
        _a.pop(r10);
        _a.ret();
    }

    private void EmitMsr()
    {
        Place(RdMsr);
        if (Path == IoPath.Ve)
        {
            _a.push(rdx);
            _a.rdmsr();
            _a.shl(rdx, 32);
            _a.or(rax, rdx);
            _a.pop(rdx);
        }
        else
        {
            WithTdvmcallFrame(
                () =>
                {
                    _a.mov(r11d, 31);
                    _a.mov(r12d, ecx);
                    _a.xor(r13d, r13d); // selected, no input: no stale guest value to the VMM
                    _a.xor(r14d, r14d);
                    _a.xor(r15d, r15d);
                },
                returnR11InRax: true);
        }

        _a.ret();

        Place(WrMsr);
        if (Path == IoPath.Ve)
        {
            _a.push(rdx);
            _a.push(rax);
            _a.mov(rdx, rax);
            _a.shr(rdx, 32);
            _a.wrmsr();
            _a.pop(rax);
            _a.pop(rdx);
        }
        else
        {
            WithTdvmcallFrame(() =>
            {
                _a.mov(r11d, 32);
                _a.mov(r12d, ecx);
                _a.mov(r13, rax);
                _a.xor(r14d, r14d); // selected, no input: no stale guest value to the VMM
                _a.xor(r15d, r15d);
            });
        }

        _a.ret();
    }

    private void EmitMmio()
    {
        // #VE.RequestMMIO: R12 size, R13 0 read / 1 write, R14 shared GPA, R15 value; read result in R11.
        (Label label, int size, bool write)[] routines =
            [(MmioRead32, 4, false), (MmioWrite32, 4, true), (MmioRead64, 8, false), (MmioWrite64, 8, true)];
        foreach ((Label label, int size, bool write) in routines)
        {
            Place(label);
            if (Path == IoPath.Ve)
            {
                switch ((size, write))
                {
                    case (4, false):
                        _a.mov(eax, __dword_ptr[rdi]);
                        break;
                    case (4, true):
                        _a.mov(__dword_ptr[rdi], eax);
                        break;
                    case (8, false):
                        _a.mov(rax, __qword_ptr[rdi]);
                        break;
                    default:
                        _a.mov(__qword_ptr[rdi], rax);
                        break;
                }
            }
            else
            {
                EmitParavirtAccess(48, size, write, () => _a.mov(r14, rdi));
                if (!write && size == 4)
                {
                    _a.mov(eax, eax);
                }
            }

            _a.ret();
        }
    }
}

/// <summary>NUL-terminated string literals, emitted once at the end of a program.</summary>
public sealed class StringPool(Assembler a)
{
    private readonly Dictionary<string, Label> _labels = new(StringComparer.Ordinal);

    /// <summary>The label of <paramref name="text"/>'s bytes.</summary>
    public Label Get(string text)
    {
        if (!_labels.TryGetValue(text, out Label label))
        {
            label = a.CreateLabel();
            _labels[text] = label;
        }

        return label;
    }

    /// <summary>Emits every string used so far.</summary>
    public void Emit()
    {
        foreach ((string text, Label label) in _labels)
        {
            Label l = label;
            a.Label(ref l);
            byte[] bytes = new byte[text.Length + 1];
            System.Text.Encoding.ASCII.GetBytes(text, bytes);
            a.db(bytes);
        }
    }
}
