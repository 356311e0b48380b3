using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace TdxSim.Runtime.Counters;

/// <summary>
/// A counter that many threads increment without sharing a cache line: each thread adds to its own padded stripe
/// (chosen by managed thread id) and a read sums them. One shared <see cref="Interlocked.Increment(ref long)"/> per
/// message is what made two vCPUs slower than one: both threads bounce the counter's line between their cores on
/// every delivery. Reads are exact once the writers have stopped, and never lower than an earlier read.
/// </summary>
public sealed class StripedCounter
{
    private const int Stripes = 32;

    private readonly Stripe[] _stripes = new Stripe[Stripes];

    /// <summary>The sum of every stripe.</summary>
    public long Value
    {
        get
        {
            long sum = 0;
            for (int i = 0; i < Stripes; i++)
            {
                sum += Volatile.Read(ref _stripes[i].Value);
            }

            return sum;
        }
    }

    /// <summary>Adds one on the calling thread's stripe.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Increment() => Interlocked.Increment(ref _stripes[Environment.CurrentManagedThreadId & (Stripes - 1)].Value);

    /// <summary>
    /// Adds one on the calling thread's stripe without an atomic instruction: for diagnostics counted on every
    /// message, where a lock-prefixed add per hop costs more than the rare lost count when two threads share a stripe.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void IncrementApproximately() => _stripes[Environment.CurrentManagedThreadId & (Stripes - 1)].Value++;

    /// <summary>Adds <paramref name="amount"/> on the calling thread's stripe.</summary>
    public void Add(long amount) => Interlocked.Add(ref _stripes[Environment.CurrentManagedThreadId & (Stripes - 1)].Value, amount);

    // 128 bytes: a cache line on each side of the value, so neither adjacent-line prefetch nor a neighbouring
    // stripe shares it.
    [StructLayout(LayoutKind.Explicit, Size = 128)]
    private struct Stripe
    {
        [FieldOffset(64)]
        public long Value;
    }
}
