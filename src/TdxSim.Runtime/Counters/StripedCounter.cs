using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace TdxSim.Runtime.Counters;

/// <summary>
/// A counter that many threads increment without sharing a cache line: each thread adds to its own padded stripe
/// and a read sums them. One shared <see cref="Interlocked.Increment(ref long)"/> per message is what made two vCPUs
/// slower than one: both threads bounce the counter's line between their cores on every delivery. Reads are exact
/// once the writers have stopped, and never lower than an earlier read.
/// </summary>
/// <remarks>
/// The first <see cref="OwnedStripes"/> threads of the process that count each own a stripe for good (the same index
/// in every counter), so <see cref="Increment"/> adds there with a plain store: no other thread writes it. Later
/// threads share the stripes by managed thread id and add atomically. A lock-prefixed add is a full barrier, and on
/// the #VE path it waited for the stores of the message just built on every delivery.
/// </remarks>
public sealed class StripedCounter
{
    /// <summary>How many threads get a stripe of their own.</summary>
    public const int OwnedStripes = 64;

    // Stripes for the threads that came too late to own one, shared by managed thread id, added to atomically.
    private const int SharedStripes = 16;

    // The calling thread's own stripe plus one; 0 until it first counts; above OwnedStripes when none was left.
    [ThreadStatic]
    private static int t_ownStripe;

    private static int s_stripesGiven;

    private readonly Stripe[] _stripes = new Stripe[OwnedStripes + SharedStripes];

    /// <summary>The sum of every stripe.</summary>
    public long Value
    {
        get
        {
            long sum = 0;
            for (int i = 0; i < _stripes.Length; i++)
            {
                sum += Volatile.Read(ref _stripes[i].Value);
            }

            return sum;
        }
    }

    /// <summary>Adds one on the calling thread's stripe: exact, and without an atomic instruction on a thread that owns one.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Increment() => Add(1);

    /// <summary>Adds <paramref name="amount"/> on the calling thread's stripe.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Add(long amount)
    {
        int own = t_ownStripe - 1;
        if ((uint)own < OwnedStripes)
        {
            // This thread is the stripe's only writer; the ordered store lets a concurrent reader see whole values.
            ref long value = ref _stripes[own].Value;
            Volatile.Write(ref value, value + amount);
            return;
        }

        AddShared(amount);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void AddShared(long amount)
    {
        if (t_ownStripe == 0)
        {
            int given = Interlocked.Increment(ref s_stripesGiven);
            t_ownStripe = given <= OwnedStripes ? given : OwnedStripes + 1;
            if (given <= OwnedStripes)
            {
                Add(amount);
                return;
            }
        }

        Interlocked.Add(ref _stripes[OwnedStripes + (Environment.CurrentManagedThreadId % SharedStripes)].Value, amount);
    }

    // 128 bytes: a cache line on each side of the value, so neither adjacent-line prefetch nor a neighbouring
    // stripe shares it.
    [StructLayout(LayoutKind.Explicit, Size = 128)]
    private struct Stripe
    {
        [FieldOffset(64)]
        public long Value;
    }
}
