using System.Numerics;
using System.Runtime.CompilerServices;
using static TdxSim.Cpu.Exec.Operands;

namespace TdxSim.Cpu.Exec;

/// <summary>What BT, BTS, BTR or BTC does to the selected bit.</summary>
internal interface IBitTestOp
{
    static abstract bool Writes { get; }

    static abstract T Apply<T>(T value, T bit)
        where T : unmanaged, IBinaryInteger<T>;
}

internal struct BtOp : IBitTestOp
{
    public static bool Writes => false;

    public static T Apply<T>(T value, T bit)
        where T : unmanaged, IBinaryInteger<T> => value;
}

internal struct BtsOp : IBitTestOp
{
    public static bool Writes => true;

    public static T Apply<T>(T value, T bit)
        where T : unmanaged, IBinaryInteger<T> => value | bit;
}

internal struct BtrOp : IBitTestOp
{
    public static bool Writes => true;

    public static T Apply<T>(T value, T bit)
        where T : unmanaged, IBinaryInteger<T> => value & ~bit;
}

internal struct BtcOp : IBitTestOp
{
    public static bool Writes => true;

    public static T Apply<T>(T value, T bit)
        where T : unmanaged, IBinaryInteger<T> => value ^ bit;
}

/// <summary>
/// BT/BTS/BTR/BTC (CF = the selected bit; ZF kept; OF, SF, AF, PF undefined and kept) and the bit scans.
/// Aux = 1: the bit offset comes from register Src, otherwise from the immediate. With a memory operand and a
/// register offset, the offset is signed and may address outside the operand (SDM Vol. 2A "BT").
/// </summary>
internal static unsafe class BitOps
{
    public static int TestR<T, TOp>(CpuCore* c, Op* op)
        where T : unmanaged, IBinaryInteger<T>, IUnsignedNumber<T>
        where TOp : struct, IBitTestOp
    {
        int index = (op->Aux == 1 ? (int)Reg<ulong>(c, op->Src) : (int)op->Imm) & (Flags.Bits<T>() - 1);
        T v = Reg<T>(c, op->Dst);
        T bit = T.One << index;
        Flags.Set(c, Flags.Cf, (v & bit) != T.Zero ? Flags.Cf : 0);
        if (TOp.Writes)
        {
            SetReg(c, op->Dst, TOp.Apply(v, bit));
        }

        return Status.Continue;
    }

    public static int TestM<T, TOp>(CpuCore* c, Op* op)
        where T : unmanaged, IBinaryInteger<T>, IUnsignedNumber<T>
        where TOp : struct, IBitTestOp => TestMem<T, TOp>(c, op, locked: false);

    public static int TestMLock<T, TOp>(CpuCore* c, Op* op)
        where T : unmanaged, IBinaryInteger<T>, IUnsignedNumber<T>
        where TOp : struct, IBitTestOp => TestMem<T, TOp>(c, op, locked: true);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int TestMem<T, TOp>(CpuCore* c, Op* op, bool locked)
        where T : unmanaged, IBinaryInteger<T>, IUnsignedNumber<T>
        where TOp : struct, IBitTestOp
    {
        int bits = Flags.Bits<T>();
        ulong ea = Ea(c, op);
        int index;
        if (op->Aux == 1)
        {
            long offset = Sign<T>(Reg<T>(c, op->Src));
            ea += (ulong)((offset >> BitOperations.Log2((uint)bits)) * sizeof(T));
            index = (int)(offset & (bits - 1));
        }
        else
        {
            index = (int)op->Imm & (bits - 1);
        }

        T bit = T.One << index;
        int status = Status.Continue;
        T old;
        if (!TOp.Writes)
        {
            if (!MemoryAccess.TryRead(c, ea, out old))
            {
                return Status.Exit;
            }
        }
        else
        {
            byte* p = MemoryAccess.Write(c, ea, (uint)sizeof(T), ref status, Access.ReadWrite);
            if (p == null)
            {
                return Status.Exit;
            }

            if (locked)
            {
                using Atomics.AtomicScope scope = Atomics.Scope(p, sizeof(T));
                ref T location = ref Unsafe.AsRef<T>(p);
                old = scope.Read(ref location);
                while (true)
                {
                    T seen = scope.CompareExchange(ref location, TOp.Apply(old, bit), old);
                    if (seen == old)
                    {
                        break;
                    }

                    old = seen;
                }
            }
            else
            {
                old = Unsafe.ReadUnaligned<T>(p);
                Unsafe.WriteUnaligned(p, TOp.Apply(old, bit));
            }
        }

        Flags.Set(c, Flags.Cf, (old & bit) != T.Zero ? Flags.Cf : 0);
        return status;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static long Sign<T>(T v)
        where T : unmanaged, IBinaryInteger<T>
    {
        int shift = 64 - Flags.Bits<T>();
        return (long)(Flags.U(v) << shift) >> shift;
    }

    public static int ScanR<T, TOp>(CpuCore* c, Op* op)
        where T : unmanaged, IBinaryInteger<T>, IUnsignedNumber<T>
        where TOp : struct, IScanOp
    {
        TOp.Exec(c, op, Reg<T>(c, op->Src));
        return Status.Continue;
    }

    public static int ScanM<T, TOp>(CpuCore* c, Op* op)
        where T : unmanaged, IBinaryInteger<T>, IUnsignedNumber<T>
        where TOp : struct, IScanOp
    {
        if (!MemoryAccess.TryRead(c, Ea(c, op), out T v))
        {
            return Status.Exit;
        }

        TOp.Exec(c, op, v);
        return Status.Continue;
    }
}

/// <summary>BSF, BSR, TZCNT, LZCNT or POPCNT of a source value into register Dst.</summary>
internal unsafe interface IScanOp
{
    static abstract void Exec<T>(CpuCore* c, Op* op, T src)
        where T : unmanaged, IBinaryInteger<T>, IUnsignedNumber<T>;
}

/// <summary>BSF: ZF = (source = 0), destination unchanged then (as Intel and AMD cores do); CF, OF, SF, AF, PF undefined: kept.</summary>
internal unsafe struct BsfOp : IScanOp
{
    public static void Exec<T>(CpuCore* c, Op* op, T src)
        where T : unmanaged, IBinaryInteger<T>, IUnsignedNumber<T>
    {
        if (src == T.Zero)
        {
            Flags.Set(c, Flags.Zf, Flags.Zf);
            return;
        }

        Flags.Set(c, Flags.Zf, 0);
        SetReg(c, op->Dst, T.CreateTruncating(BitOperations.TrailingZeroCount(Flags.U(src))));
    }
}

internal unsafe struct BsrOp : IScanOp
{
    public static void Exec<T>(CpuCore* c, Op* op, T src)
        where T : unmanaged, IBinaryInteger<T>, IUnsignedNumber<T>
    {
        if (src == T.Zero)
        {
            Flags.Set(c, Flags.Zf, Flags.Zf);
            return;
        }

        Flags.Set(c, Flags.Zf, 0);
        SetReg(c, op->Dst, T.CreateTruncating(BitOperations.Log2(Flags.U(src))));
    }
}

/// <summary>TZCNT: CF = (source = 0), ZF = (result = 0).</summary>
internal unsafe struct TzcntOp : IScanOp
{
    public static void Exec<T>(CpuCore* c, Op* op, T src)
        where T : unmanaged, IBinaryInteger<T>, IUnsignedNumber<T>
    {
        T r = src == T.Zero ? T.CreateTruncating(Flags.Bits<T>()) : T.TrailingZeroCount(src);
        Flags.Set(c, Flags.Cf | Flags.Zf, (src == T.Zero ? Flags.Cf : 0) | (r == T.Zero ? Flags.Zf : 0));
        SetReg(c, op->Dst, r);
    }
}

/// <summary>LZCNT: CF = (source = 0), ZF = (result = 0).</summary>
internal unsafe struct LzcntOp : IScanOp
{
    public static void Exec<T>(CpuCore* c, Op* op, T src)
        where T : unmanaged, IBinaryInteger<T>, IUnsignedNumber<T>
    {
        T r = T.LeadingZeroCount(src);
        Flags.Set(c, Flags.Cf | Flags.Zf, (src == T.Zero ? Flags.Cf : 0) | (r == T.Zero ? Flags.Zf : 0));
        SetReg(c, op->Dst, r);
    }
}

/// <summary>POPCNT: ZF = (source = 0); CF, OF, SF, AF, PF cleared.</summary>
internal unsafe struct PopcntOp : IScanOp
{
    public static void Exec<T>(CpuCore* c, Op* op, T src)
        where T : unmanaged, IBinaryInteger<T>, IUnsignedNumber<T>
    {
        Flags.SetStatus(c, src == T.Zero ? Flags.Zf : 0);
        SetReg(c, op->Dst, T.PopCount(src));
    }
}
