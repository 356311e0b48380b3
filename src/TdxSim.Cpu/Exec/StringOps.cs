using System.Numerics;
using System.Runtime.CompilerServices;
using TdxSim.Abi;
using static TdxSim.Cpu.Exec.Operands;

namespace TdxSim.Cpu.Exec;

/// <summary>
/// MOVS, STOS, LODS, CMPS, SCAS with REP/REPE/REPNE (Aux: 0 none, 1 REP/REPE, 2 REPNE). The address-size parameter A On =
/// 32-bit addressing (67 prefix: ESI, EDI, ECX). A REP instruction updates RSI/RDI/RCX after each element, so a fault
/// leaves it restartable exactly as hardware does; after <see cref="CpuCore.RepChunk"/> elements it yields
/// (<see cref="Status.Restart"/>) so the run loop can honour its instruction limit, as an interrupt window would.
/// </summary>
internal static unsafe class StringOps
{
    private const int Rax = 0;
    private const int Rcx = 1;
    private const int Rsi = 6;
    private const int Rdi = 7;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ulong Get<A>(CpuCore* c, int reg)
        where A : struct, IFlagMode => A.On ? (uint)Gpr(c, reg) : Gpr(c, reg);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Put<A>(CpuCore* c, int reg, ulong value)
        where A : struct, IFlagMode => Gpr(c, reg) = A.On ? (uint)value : value;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static long Step<T>(CpuCore* c)
        where T : unmanaged => (c->State.Rflags & Flags.Df) != 0 ? -sizeof(T) : sizeof(T);

    public static int Movs<T, A>(CpuCore* c, Op* op)
        where T : unmanaged
        where A : struct, IFlagMode
    {
        bool rep = op->Aux != 0;
        ulong count = rep ? Get<A>(c, Rcx) : 1;
        if (count == 0)
        {
            return Status.Continue;
        }

        long step = Step<T>(c);
        uint budget = c->RepChunk;
        int status = Status.Continue;
        while (true)
        {
            ulong si = Get<A>(c, Rsi), di = Get<A>(c, Rdi);
            if (rep && step > 0 && count > 1 && Bulk<T>(c, si, di, count, copy: true, out ulong done, ref status))
            {
                count -= done;
                Put<A>(c, Rsi, si + (done * (ulong)sizeof(T)));
                Put<A>(c, Rdi, di + (done * (ulong)sizeof(T)));
            }
            else
            {
                if (!MemoryAccess.TryRead(c, si, out T v))
                {
                    return Status.Exit;
                }

                byte* p = MemoryAccess.Write(c, di, (uint)sizeof(T), ref status);
                if (p == null)
                {
                    return Status.Exit;
                }

                Unsafe.WriteUnaligned(p, v);
                Put<A>(c, Rsi, si + (ulong)step);
                Put<A>(c, Rdi, di + (ulong)step);
                count--;
            }

            if (!rep)
            {
                return status;
            }

            int next = AfterElement<A>(c, count, stop: false, status, ref budget);
            if (next != NextElement)
            {
                return next;
            }
        }
    }

    public static int Stos<T, A>(CpuCore* c, Op* op)
        where T : unmanaged
        where A : struct, IFlagMode
    {
        bool rep = op->Aux != 0;
        ulong count = rep ? Get<A>(c, Rcx) : 1;
        if (count == 0)
        {
            return Status.Continue;
        }

        T value = Reg<T>(c, CpuCore.RegOffset(Rax));
        long step = Step<T>(c);
        uint budget = c->RepChunk;
        int status = Status.Continue;
        while (true)
        {
            ulong di = Get<A>(c, Rdi);
            if (rep && step > 0 && count > 1 && Bulk<T>(c, 0, di, count, copy: false, out ulong done, ref status))
            {
                count -= done;
                Put<A>(c, Rdi, di + (done * (ulong)sizeof(T)));
            }
            else
            {
                byte* p = MemoryAccess.Write(c, di, (uint)sizeof(T), ref status);
                if (p == null)
                {
                    return Status.Exit;
                }

                Unsafe.WriteUnaligned(p, value);
                Put<A>(c, Rdi, di + (ulong)step);
                count--;
            }

            if (!rep)
            {
                return status;
            }

            int next = AfterElement<A>(c, count, stop: false, status, ref budget);
            if (next != NextElement)
            {
                return next;
            }
        }
    }

    public static int Lods<T, A>(CpuCore* c, Op* op)
        where T : unmanaged
        where A : struct, IFlagMode
    {
        bool rep = op->Aux != 0;
        ulong count = rep ? Get<A>(c, Rcx) : 1;
        if (count == 0)
        {
            return Status.Continue;
        }

        long step = Step<T>(c);
        uint budget = c->RepChunk;
        while (true)
        {
            ulong si = Get<A>(c, Rsi);
            if (!MemoryAccess.TryRead(c, si, out T v))
            {
                return Status.Exit;
            }

            SetReg(c, CpuCore.RegOffset(Rax), v);
            Put<A>(c, Rsi, si + (ulong)step);
            if (!rep)
            {
                return Status.Continue;
            }

            int next = AfterElement<A>(c, --count, stop: false, Status.Continue, ref budget);
            if (next != NextElement)
            {
                return next;
            }
        }
    }

    /// <summary>CMPS: flags of [RSI] - [RDI].</summary>
    public static int Cmps<T, A>(CpuCore* c, Op* op)
        where T : unmanaged, IBinaryInteger<T>, IUnsignedNumber<T>
        where A : struct, IFlagMode
    {
        int rep = op->Aux;
        ulong count = rep != 0 ? Get<A>(c, Rcx) : 1;
        if (count == 0)
        {
            return Status.Continue;
        }

        long step = Step<T>(c);
        uint budget = c->RepChunk;
        while (true)
        {
            ulong si = Get<A>(c, Rsi), di = Get<A>(c, Rdi);
            if (!MemoryAccess.TryRead(c, si, out T a) || !MemoryAccess.TryRead(c, di, out T b))
            {
                return Status.Exit;
            }

            SubOp.Exec<T, FlagsOn>(c, a, b);
            Put<A>(c, Rsi, si + (ulong)step);
            Put<A>(c, Rdi, di + (ulong)step);
            if (rep == 0)
            {
                return Status.Continue;
            }

            int next = AfterElement<A>(c, --count, Stops(c, rep), Status.Continue, ref budget);
            if (next != NextElement)
            {
                return next;
            }
        }
    }

    /// <summary>SCAS: flags of accumulator - [RDI].</summary>
    public static int Scas<T, A>(CpuCore* c, Op* op)
        where T : unmanaged, IBinaryInteger<T>, IUnsignedNumber<T>
        where A : struct, IFlagMode
    {
        int rep = op->Aux;
        ulong count = rep != 0 ? Get<A>(c, Rcx) : 1;
        if (count == 0)
        {
            return Status.Continue;
        }

        T a = Reg<T>(c, CpuCore.RegOffset(Rax));
        long step = Step<T>(c);
        uint budget = c->RepChunk;
        while (true)
        {
            ulong di = Get<A>(c, Rdi);
            if (!MemoryAccess.TryRead(c, di, out T b))
            {
                return Status.Exit;
            }

            SubOp.Exec<T, FlagsOn>(c, a, b);
            Put<A>(c, Rdi, di + (ulong)step);
            if (rep == 0)
            {
                return Status.Continue;
            }

            int next = AfterElement<A>(c, --count, Stops(c, rep), Status.Continue, ref budget);
            if (next != NextElement)
            {
                return next;
            }
        }
    }

    /// <summary><see cref="AfterElement"/>: run the next element.</summary>
    private const int NextElement = -1;

    /// <summary>
    /// The bookkeeping after one element of a REP instruction: stores the remaining <paramref name="count"/> in RCX, then
    /// returns <paramref name="status"/> when the instruction is done (count exhausted, or a REPE/REPNE condition
    /// <paramref name="stop"/>), <see cref="Status.Restart"/> when the chunk budget is used up or a write hit decoded code,
    /// else <see cref="NextElement"/>.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int AfterElement<A>(CpuCore* c, ulong count, bool stop, int status, ref uint budget)
        where A : struct, IFlagMode
    {
        Put<A>(c, Rcx, count);
        if (count == 0 || stop)
        {
            return status;
        }

        return status != Status.Continue || --budget == 0 ? Status.Restart : NextElement;
    }

    /// <summary>REPE stops when ZF = 0, REPNE when ZF = 1.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool Stops(CpuCore* c, int rep) => ((c->State.Rflags & Flags.Zf) != 0) == (rep == 2);

    /// <summary>
    /// Forward REP MOVS/STOS over the part of the run that stays inside one page for both operands: done as one
    /// host copy or fill. Returns false (nothing done) when fewer than two elements fit, when the pages are not
    /// plain memory, or when a forward copy overlaps its own destination (element order then matters).
    /// </summary>
    private static bool Bulk<T>(CpuCore* c, ulong si, ulong di, ulong count, bool copy, out ulong done, ref int status)
        where T : unmanaged
    {
        done = 0;
        ulong room = GuestPhysical.PageSize - (di & (GuestPhysical.PageSize - 1));
        if (copy)
        {
            room = Math.Min(room, GuestPhysical.PageSize - (si & (GuestPhysical.PageSize - 1)));
        }

        ulong n = Math.Min(count, room / (ulong)sizeof(T));
        if (n < 2)
        {
            return false;
        }

        uint bytes = (uint)(n * (ulong)sizeof(T));
        if (copy && di > si && di - si < bytes)
        {
            return false;
        }

        byte* src = null;
        if (copy)
        {
            src = MemoryAccess.Read(c, si, bytes);
            if (src == null)
            {
                c->Exit = CoreExit.None;
                return false;
            }
        }

        int local = Status.Continue;
        byte* dst = MemoryAccess.Write(c, di, bytes, ref local);
        if (dst == null)
        {
            c->Exit = CoreExit.None;
            return false;
        }

        if (copy)
        {
            Buffer.MemoryCopy(src, dst, bytes, bytes);
        }
        else
        {
            T value = Reg<T>(c, CpuCore.RegOffset(Rax));
            if (sizeof(T) == 1)
            {
                new Span<byte>(dst, (int)bytes).Fill(Unsafe.As<T, byte>(ref value));
            }
            else
            {
                new Span<T>(dst, (int)n).Fill(value);
            }
        }

        if (local != Status.Continue)
        {
            status = local;
        }

        done = n;
        return true;
    }
}
