using Iced.Intel;
using static Iced.Intel.AssemblerRegisters;

namespace TdxSim.Images.Guests;

/// <summary>
/// The built-in guest <c>accept-storm</c>: every vCPU touches the same pending private pages in the same order, in
/// lock step (a barrier after each page), so the guest kernel's TDG.MEM.PAGE.ACCEPTs of one page from all vCPUs reach
/// the TDX module together. Run with <c>accept: lazy</c> and <c>module: per-vcpu</c>: one vCPU's accept takes the
/// page's SEPT entry and succeeds, the others get TDX_OPERAND_BUSY, retry, and find the page accepted. Every vCPU then
/// halts with interrupts disabled (exit 0).
/// </summary>
public static class AcceptStormGuest
{
    /// <summary>Where the guest loads.</summary>
    public const ulong Origin = 0x10_0000;

    /// <summary>The first page every vCPU touches.</summary>
    public const ulong PagesBase = 0x40_0000;

    /// <summary>Pages touched, from <see cref="PagesBase"/>.</summary>
    public const int PageCount = 64;

    /// <summary>The barrier counter (its own page, also pending at start, so its first touch is contended too).</summary>
    public const ulong BarrierCounter = PagesBase - 0x1000;

    /// <summary>Private pages the guest accepts: the barrier's page and <see cref="PageCount"/> pages.</summary>
    public const int PagesAccepted = PageCount + 1;

    /// <summary>Builds the guest; private memory must reach past the last page.</summary>
    public static GuestProgram Build(ulong memorySize)
    {
        ulong end = PagesBase + ((ulong)PageCount * 0x1000);
        if (memorySize < end + 0x10_0000)
        {
            throw new ArgumentException(
                $"accept-storm touches private memory up to 0x{end:x}; it needs at least 0x{end + 0x10_0000:x} bytes of memory (vCPU stacks live at the top)",
                nameof(memorySize));
        }

        return GuestProgram.Assemble(Origin, (Assembler a) => Emit(a));
    }

    private static void Emit(Assembler a)
    {
        Label loop = a.CreateLabel("page");
        Label wait = a.CreateLabel("wait");
        Label next = a.CreateLabel("next");
        Label done = a.CreateLabel("done");

        // RDI = vCPU index, RSI = number of vCPUs (contract section 3). RBX = page, RCX = pages done, R8 = barrier.
        a.mov(rbx, PagesBase);
        a.xor(ecx, ecx);
        a.mov(r8, BarrierCounter);
        a.Label(ref loop);
        a.mov(__byte_ptr[rbx], 1);          // first touch of a pending page: #VE, the kernel accepts it
        a.@lock.inc(__qword_ptr[r8]);       // arrive at the barrier of this page
        a.lea(rax, __[rcx + 1]);
        a.imul(rax, rsi);                   // everyone has arrived when the counter is (pages done + 1) * vCPUs
        a.Label(ref wait);
        a.cmp(__qword_ptr[r8], rax);
        a.jae(next);
        a.pause();
        a.jmp(wait);
        a.Label(ref next);
        a.add(rbx, 0x1000);
        a.inc(rcx);
        a.cmp(rcx, PageCount);
        a.jb(loop);

        a.Label(ref done);
        a.cli();
        a.hlt();
        a.jmp(done);
    }
}
